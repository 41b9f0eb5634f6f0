"""A long-lived Python worker process that answers requests, with a hard time limit on each one.

The parent starts ``python -m tiledsl.autotuner._child`` (not ``multiprocessing``: the user's ``__main__`` is never
re-imported) and talks to it over two pipes with length-framed pickles. The worker imports TVM once and then serves
many requests. When a request runs past its limit the worker is killed (SIGKILL: a hung kernel or a stuck TVM pass
cannot be interrupted any other way); when the worker dies (a segfault, an illegal memory access, ``os._exit``) the
parent sees the pipe close and learns the exit status. Either way the caller gets an exception and may start a new
worker. The worker's stdout and stderr go to a log file whose tail explains a crash.
"""
from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import cloudpickle

from .. import config

logger = logging.getLogger(__name__)

START_TIMEOUT = 180.0  # seconds a new worker may take to import TVM and report ready


class WorkerFailure(Exception):
    """A request did not complete; ``kind`` is "timeout" or "crash"."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def describe_exit(code: int | None) -> str:
    """``was killed by SIGSEGV (segmentation fault)`` for a negative status, ``exited with status 3`` otherwise."""
    if code is None:
        return "is still running"
    if code < 0 or code > 128:
        num = -code if code < 0 else code - 128
        try:
            name = signal.Signals(num).name
        except ValueError:
            name = f"signal {num}"
        extra = {"SIGSEGV": " (segmentation fault)", "SIGBUS": " (bus error)", "SIGABRT": " (abort)",
                 "SIGKILL": " (killed)", "SIGILL": " (illegal instruction)", "SIGFPE": " (arithmetic error)"}
        return f"was killed by {name}{extra.get(name, '')}"
    return f"exited with status {code}"


class Worker:
    """One worker process serving ``role`` ("builder" or "runner"), set up with ``payload`` (cloudpickled)."""

    def __init__(self, role: str, payload, name: str | None = None, env: dict | None = None):
        self.role = role
        self.name = name or role
        self._payload = cloudpickle.dumps(payload)
        self._env = env
        self._proc: subprocess.Popen | None = None
        self._to: Connection | None = None
        self._from: Connection | None = None
        self._log_path: Path | None = None
        self._ready = False
        self.restarts = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Launch the process (returns at once; :meth:`wait_ready` waits for its imports)."""
        if self._proc is not None:
            return
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        log_dir = config.tmp_dir() / "workers"
        log_dir.mkdir(parents=True, exist_ok=True)
        fd, log = tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log", dir=log_dir)
        self._log_path = Path(log)
        env = dict(os.environ)
        env.update(self._env or {})
        env["TILEDSL_WORKER_FDS"] = f"{to_child_r},{from_child_w}"
        try:
            self._proc = subprocess.Popen([sys.executable, "-m", "tiledsl.autotuner._child"],
                                          pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
                                          stdout=fd, stderr=fd, env=env, cwd=os.getcwd(),
                                          start_new_session=True)
        finally:
            os.close(fd)
            os.close(to_child_r)
            os.close(from_child_w)
        self._to = Connection(to_child_w, readable=False)
        self._from = Connection(from_child_r, writable=False)
        init = {"role": self.role, "sys_path": list(sys.path), "payload": self._payload}
        self._to.send_bytes(pickle.dumps(init))
        self._ready = False

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until the worker has imported everything; raises WorkerFailure if it dies or hangs."""
        self.start()
        if self._ready:
            return
        reply = self._receive(timeout, "starting")
        if reply.get("error"):
            self.kill()
            raise WorkerFailure("crash", f"the {self.role} worker could not start: {reply['error']}")
        self._ready = True

    def call(self, request: dict, timeout: float | None) -> dict:
        """Send ``request`` and return the reply dict, or raise WorkerFailure (the worker is then gone)."""
        self.wait_ready()
        try:
            self._to.send_bytes(cloudpickle.dumps(request))
        except (BrokenPipeError, OSError):
            self._reap_failure("crash", "sending a request")
        return self._receive(timeout, "a request")

    def _receive(self, timeout, what: str) -> dict:
        deadline = None if timeout is None or timeout <= 0 else time.monotonic() + timeout
        while True:
            wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            try:
                if self._from.poll(wait):
                    return pickle.loads(self._from.recv_bytes())
            except (EOFError, OSError):
                self._reap_failure("crash", what)
            if self._proc.poll() is not None and not self._from.poll(0):
                self._reap_failure("crash", what)
            if deadline is not None and time.monotonic() >= deadline:
                self.kill()
                raise WorkerFailure("timeout", f"ran past the {timeout:g} s limit; the {self.role} worker was killed")

    def _reap_failure(self, kind: str, what: str):
        try:
            code = self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        tail = self.log_tail()
        self.kill()
        msg = f"the {self.role} worker {describe_exit(code)} during {what}"
        if tail:
            msg += f"; its last output: {tail}"
        raise WorkerFailure(kind, msg)

    def log_tail(self, lines: int = 6) -> str:
        """The last lines of the worker's log, on one line (TVM's long backtraces trimmed)."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        try:
            text = self._log_path.read_text(errors="replace")
        except OSError:
            return ""
        keep = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("File ")]
        return " | ".join(keep[-lines:])[-800:]

    def kill(self) -> None:
        """Kill the process (and its process group) and forget it; the next call starts a fresh one."""
        proc = self._proc
        self._proc = None
        self._ready = False
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
        elif proc is not None:
            proc.wait()
        for conn in (self._to, self._from):
            if conn is not None:
                try:
                    conn.close()
                except OSError:
                    pass
        self._to = self._from = None
        if proc is not None:
            self.restarts += 1
        self._remove_log()

    def close(self) -> None:
        """Ask the worker to exit, then make sure it has."""
        if self._proc is not None and self._proc.poll() is None and self._to is not None:
            try:
                self._to.send_bytes(cloudpickle.dumps({"op": "exit"}))
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        self.restarts -= 1 if self.restarts else 0

    def _remove_log(self):
        if self._log_path is not None:
            try:
                self._log_path.unlink()
            except OSError:
                pass
            self._log_path = None

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.kill()
        except Exception:
            pass
