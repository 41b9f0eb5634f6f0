"""Entry point of a worker process (``python -m tiledsl.autotuner._child``); see ``worker.py``.

With one pipe pair in TILEDSL_WORKER_FDS it serves one worker. With several it is a fork server: it imports the
heavy modules (torch, TVM, tiledsl) once, forks a worker per extra pair (each in its own session, so it can be
killed alone) and serves the first pair itself; N workers are then ready in about the time of one import.

With TILEDSL_WORKER_MODE=server it is the tuning process's long-lived fork server (``fork_server.py``): it imports
what both roles need, then forks a worker for each request on its socket, until the socket closes.
"""
from __future__ import annotations

import json
import os
import pickle
import sys
import traceback
from multiprocessing.connection import Connection

from .fork_server import close_fds, receive, send


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


def _preload(*roles: str) -> None:
    """Import what every worker of ``roles`` needs, before forking (never touches CUDA)."""
    import cloudpickle  # noqa: F401

    for role in roles:
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


def _run_forked(pair: tuple, log: str, tuner: int) -> None:
    """In a freshly forked worker: its own session, output to ``log``, then serve ``pair`` (never returns). Where
    torch touched CUDA in the process it was forked from, Python is executed again on the same pipes instead."""
    os.setsid()
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    if _cuda_poisoned():  # fall back to a fresh interpreter on the same pipes (slower, correct)
        os.environ["TILEDSL_WORKER_FDS"] = "%d,%d" % pair
        os.environ["TILEDSL_WORKER_LOGS"] = json.dumps([log])
        os.environ["TILEDSL_WORKER_PARENT"] = str(tuner)
        os.environ.pop("TILEDSL_WORKER_FORCE_REEXEC", None)
        os.environ.pop("TILEDSL_WORKER_MODE", None)
        for fd in pair:
            os.set_inheritable(fd, True)
        os.execv(sys.executable, [sys.executable, "-m", "tiledsl.autotuner._child"])
    _serve(*pair, tuner)
    _finish()


def _fork_server(sock_fd: int, tuner: int) -> None:
    """The long-lived fork server (see ``fork_server.py``): answer fork and exit-code requests until the tuning
    process closes the socket or is gone. Forked workers are reaped here, their exit codes kept for the asking."""
    import select
    import socket
    import time

    sock = socket.socket(fileno=sock_fd)
    try:
        _preload("builder", "runner")
    except BaseException as err:  # report why we cannot serve, then exit
        send(sock, {"error": f"{type(err).__name__}: {err}"})
        return
    send(sock, {"ready": True, "pid": os.getpid()})
    codes: dict = {}

    def reap():
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not pid:
                return
            codes[pid] = os.waitstatus_to_exitcode(status)

    while True:
        reap()
        if not select.select([sock], [], [], 1.0)[0]:
            if not _alive(tuner):
                return
            continue
        try:
            request, fds = receive(sock, max_fds=2)
        except (EOFError, OSError):
            return
        if request.get("op") == "fork":
            try:
                pid = os.fork()
            except OSError as err:
                close_fds(fds)
                send(sock, {"error": f"{type(err).__name__}: {err}"})
                continue
            if pid == 0:
                sock.close()
                os.environ.clear()
                os.environ.update(request["env"])
                try:
                    os.chdir(request["cwd"])
                except OSError:
                    pass
                _run_forked(tuple(fds), request["log"], tuner)
            close_fds(fds)
            send(sock, {"pid": pid})
        elif request.get("op") == "exit_code":
            deadline = time.monotonic() + float(request.get("timeout", 5.0))
            while request["pid"] not in codes and time.monotonic() < deadline:
                time.sleep(0.02)
                reap()
            send(sock, {"code": codes.pop(request["pid"], None)})


def main() -> None:
    tuner = int(os.environ.get("TILEDSL_WORKER_PARENT") or os.getppid())
    if os.environ.get("TILEDSL_WORKER_MODE") == "server":
        _fork_server(int(os.environ["TILEDSL_WORKER_FDS"]), tuner)
        _finish()
    pairs = [tuple(int(x) for x in p.split(",")) for p in os.environ["TILEDSL_WORKER_FDS"].split(";")]
    logs = _log_paths(os.environ.get("TILEDSL_WORKER_LOGS", ""))
    if len(pairs) > 1:
        _preload(os.environ.get("TILEDSL_WORKER_ROLE", "builder"))
        for k in range(1, len(pairs)):
            pid = os.fork()
            if pid == 0:
                close_fds([fd for j, pair in enumerate(pairs) if j != k for fd in pair])
                _run_forked(pairs[k], logs[k] if k < len(logs) else "", tuner)
            for fd in pairs[k]:
                os.close(fd)
    _serve(*pairs[0], tuner)
    _finish()


if __name__ == "__main__":
    main()
