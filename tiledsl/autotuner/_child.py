"""Entry point of a worker process (``python -m tiledsl.autotuner._child``); see ``worker.py``.

With one pipe pair in TILEDSL_WORKER_FDS it serves one worker. With several it is a fork server: it imports the
heavy modules (torch, TVM, tiledsl) once, forks a worker per extra pair (each in its own session, so it can be
killed alone) and serves the first pair itself; N workers are then ready in about the time of one import.
"""
from __future__ import annotations

import json
import os
import pickle
import sys
import traceback
from multiprocessing.connection import Connection


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True


def _watch_parent(tuner: int) -> None:
    """Exit when the tuning process is gone (killed mid-run), even while a request hangs."""
    import time

    first_parent = os.getppid()
    while True:
        time.sleep(1.0)
        if (first_parent == tuner and os.getppid() != tuner) or not _alive(tuner):
            os._exit(3)


def _serve(r: int, w: int, tuner: int) -> None:
    import threading

    threading.Thread(target=_watch_parent, args=(tuner,), daemon=True).start()
    inbox, outbox = Connection(r, writable=False), Connection(w, readable=False)
    try:
        init = pickle.loads(inbox.recv_bytes())
    except EOFError:
        return
    sys.path[:] = [p for p in init["sys_path"]]
    try:
        import cloudpickle

        handler = _handler_class(init["role"])(cloudpickle.loads(init["payload"]))
    except BaseException as err:  # report why we cannot start, then exit
        outbox.send_bytes(pickle.dumps({"error": f"{type(err).__name__}: {err}",
                                        "traceback": traceback.format_exc()}))
        return
    outbox.send_bytes(pickle.dumps({"ready": True, "pid": os.getpid()}))
    while True:
        try:
            data = inbox.recv_bytes()
        except EOFError:
            return
        request = cloudpickle.loads(data)
        if request.get("op") == "exit":
            return
        try:
            reply = handler.handle(request)
        except BaseException as err:  # every failure goes back to the parent as data
            reply = {"status": "error", "reason": f"{type(err).__name__}: {err}",
                     "traceback": traceback.format_exc()}
        outbox.send_bytes(pickle.dumps(reply))


def _handler_class(role: str):
    if role == "builder":
        from .builder import BuildHandler
        return BuildHandler
    from .runner import RunHandler
    return RunHandler


def _preload(role: str) -> None:
    """Import what every worker of ``role`` needs, before forking (never touches CUDA)."""
    import cloudpickle  # noqa: F401

    _handler_class(role)
    import tiledsl.runtime.compiler  # noqa: F401
    try:
        import tiledsl.codegen.cuda  # noqa: F401
    except Exception:  # pragma: no cover - an optional backend
        pass


def _cuda_poisoned() -> bool:
    """True when torch touched CUDA in the fork server, so CUDA cannot be used in this forked child."""
    if os.environ.get("TILEDSL_WORKER_FORCE_REEXEC") == "1":  # tests exercise the fallback
        return True
    torch = sys.modules.get("torch")
    check = getattr(getattr(torch, "_C", None), "_cuda_isInBadFork", None)
    return bool(check()) if check is not None else False


def _finish() -> None:
    # kernels built with the disk cache off live in the tuner's scratch folder (TILEDSL_TMP_DIR), which the tuner
    # removes once it has kept what it needs: the worker leaves them alone
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown (TVM's static destructors are slow and irrelevant here)


def _log_paths(raw: str) -> list[str]:
    """The workers' log paths: a JSON list (a path may hold any character, ``;`` included)."""
    if not raw:
        return []
    try:
        paths = json.loads(raw)
    except ValueError:
        return []
    return [str(p) for p in paths] if isinstance(paths, list) else []


def main() -> None:
    tuner = int(os.environ.get("TILEDSL_WORKER_PARENT") or os.getppid())
    pairs = [tuple(int(x) for x in p.split(",")) for p in os.environ["TILEDSL_WORKER_FDS"].split(";")]
    logs = _log_paths(os.environ.get("TILEDSL_WORKER_LOGS", ""))
    if len(pairs) > 1:
        _preload(os.environ.get("TILEDSL_WORKER_ROLE", "builder"))
        for k in range(1, len(pairs)):
            pid = os.fork()
            if pid == 0:
                os.setsid()
                for j, (r, w) in enumerate(pairs):
                    if j != k:
                        for fd in (r, w):
                            try:
                                os.close(fd)
                            except OSError:
                                pass
                if k < len(logs) and logs[k]:
                    fd = os.open(logs[k], os.O_WRONLY | os.O_APPEND)
                    os.dup2(fd, 1)
                    os.dup2(fd, 2)
                    os.close(fd)
                if _cuda_poisoned():  # fall back to a fresh interpreter on the same pipes (slower, correct)
                    os.environ["TILEDSL_WORKER_FDS"] = "%d,%d" % pairs[k]
                    os.environ["TILEDSL_WORKER_LOGS"] = json.dumps(logs[k:k + 1])
                    os.environ.pop("TILEDSL_WORKER_FORCE_REEXEC", None)
                    for fd in pairs[k]:
                        os.set_inheritable(fd, True)
                    os.execv(sys.executable, [sys.executable, "-m", "tiledsl.autotuner._child"])
                _serve(*pairs[k], tuner)
                _finish()
            for fd in pairs[k]:
                os.close(fd)
    _serve(*pairs[0], tuner)
    _finish()


if __name__ == "__main__":
    main()
