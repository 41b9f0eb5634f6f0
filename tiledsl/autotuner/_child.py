"""Entry point of a worker process (``python -m tiledsl.autotuner._child``); see ``worker.py``."""
from __future__ import annotations

import os
import pickle
import sys
import traceback
from multiprocessing.connection import Connection


def _watch_parent(parent: int) -> None:
    """Exit when the parent is gone (killed mid-run), even while a request hangs."""
    import time

    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(3)


def _serve() -> None:
    import threading

    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    r, w = (int(x) for x in os.environ["TILEDSL_WORKER_FDS"].split(","))
    inbox, outbox = Connection(r, writable=False), Connection(w, readable=False)
    init = pickle.loads(inbox.recv_bytes())
    sys.path[:] = [p for p in init["sys_path"]]
    try:
        import cloudpickle

        if init["role"] == "builder":
            from .builder import BuildHandler as Handler
        else:
            from .runner import RunHandler as Handler
        handler = Handler(cloudpickle.loads(init["payload"]))
    except BaseException as err:  # report why we cannot start, then exit
        outbox.send_bytes(pickle.dumps({"error": f"{type(err).__name__}: {err}",
                                        "traceback": traceback.format_exc()}))
        return
    outbox.send_bytes(pickle.dumps({"ready": True}))
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


if __name__ == "__main__":
    _serve()
    _compiler = sys.modules.get("tiledsl.runtime.compiler")
    if _compiler is not None:  # scratch kernels (TILEDSL_DISABLE_CACHE) made by this worker
        _compiler._remove_scratch()
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown (TVM's static destructors are slow and irrelevant here)
