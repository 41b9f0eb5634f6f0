"""A long-lived Python worker process that answers requests, with a hard time limit on each one.

The parent starts ``python -m tiledsl.autotuner._child`` (not ``multiprocessing``: the user's ``__main__`` is never
re-imported) and talks to it over two pipes with length-framed pickles. The worker imports TVM once and then serves
many requests. When a request runs past its limit the worker is killed (SIGKILL: a hung kernel or a stuck TVM pass
cannot be interrupted any other way); when the worker dies (a segfault, an illegal memory access, ``os._exit``) the
parent sees the pipe close and learns the exit status. Either way the caller gets an exception and may start a new
worker. The worker's stdout and stderr go to a log file whose tail explains a crash. Workers are forked from this
process's long-lived fork server (``fork_server.py``: the imports happen once per process, not once per tuning
run); with that switched off or failing, ``Worker.start_group`` starts several workers from one fresh process
(``_child.py``) that imports once and forks the others.
"""
from __future__ import annotations

import json
import logging
import os
import pickle
import re
import signal
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import cloudpickle

from .. import config
from . import fork_server

logger = logging.getLogger(__name__)

START_TIMEOUT = 180.0  # seconds a new worker may take to import TVM and report ready


_LOG_OWNER = re.compile(r"-p(\d+)-[^/]*\.log$")


def remove_stale_logs(log_dir: Path) -> None:
    """Remove worker logs left by tuning processes that no longer exist (a run killed with SIGKILL cannot clean
    up after itself); a log is named after the process that started its worker."""
    try:
        names = os.listdir(log_dir)
    except OSError:
        return
    for name in names:
        match = _LOG_OWNER.search(name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        try:
            os.unlink(log_dir / name)
        except OSError:
            pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


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
        self._pid: int | None = None  # a worker forked by a fork server (not our child)
        self._to: Connection | None = None
        self._from: Connection | None = None
        self._log_path: Path | None = None
        self._fork_fds: tuple | None = None  # the worker's pipe ends, until the fork server forks it
        self._server: fork_server.ForkServer | None = None  # the fork server that forked it
        self._ready = False
        self.restarts = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Launch the process (returns at once; :meth:`wait_ready` waits for its imports)."""
        if self._to is not None:
            return
        Worker._launch([self])

    @classmethod
    def start_group(cls, role: str, payload, n: int, prefix: str | None = None,
                    env: dict | None = None) -> list["Worker"]:
        """``n`` workers from one fork server: the imports happen once, then the workers are forked."""
        workers = [cls(role, payload, name=f"{prefix or role}{i}", env=env) for i in range(n)]
        if n == 1:
            workers[0].start()
        else:
            cls._launch(workers)
        return workers

    @staticmethod
    def _launch(workers: list["Worker"]) -> None:
        log_dir = config.tmp_dir() / "workers"
        log_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_logs(log_dir)
        child_fds = []
        for w in workers:
            to_child_r, to_child_w = os.pipe()
            from_child_r, from_child_w = os.pipe()
            child_fds.append((to_child_r, from_child_w))
            fd, log = tempfile.mkstemp(prefix=f"{w.name}-p{os.getpid()}-", suffix=".log", dir=log_dir)
            os.close(fd)
            w._log_path = Path(log)
            w._to = Connection(to_child_w, readable=False)
            w._from = Connection(from_child_r, writable=False)
            w._ready = False
        if fork_server.enabled() and fork_server.obtain() is not None:
            # forked in wait_ready (the server imports meanwhile, the first time); its pipe ends wait until then
            for w, fds in zip(workers, child_fds):
                w._fork_fds = fds
            return
        Worker._spawn(workers, child_fds)

    @staticmethod
    def _spawn(workers: list["Worker"], child_fds: list[tuple]) -> None:
        """Start ``workers`` as a fresh Python process (a fork server of its own for several) on the pipe ends
        ``child_fds`` (one (read, write) pair each), which are closed here, and send each its start message."""
        first = workers[0]
        env = first._environment()
        if len(workers) > 1:  # torch.cuda.is_available() (tvm_ffi calls it on import) must not poison the forks
            env.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
        env.update(TILEDSL_WORKER_FDS=";".join(f"{r},{w}" for r, w in child_fds),
                   TILEDSL_WORKER_LOGS=json.dumps([str(w._log_path) for w in workers]),
                   TILEDSL_WORKER_ROLE=first.role, TILEDSL_WORKER_PARENT=str(os.getpid()))
        fds = tuple(fd for pair in child_fds for fd in pair)
        log_fd = os.open(first._log_path, os.O_WRONLY | os.O_APPEND)
        try:
            first._proc = subprocess.Popen([sys.executable, "-m", "tiledsl.autotuner._child"],
                                           pass_fds=fds, stdin=subprocess.DEVNULL, stdout=log_fd,
                                           stderr=log_fd, env=env, cwd=os.getcwd(), start_new_session=True)
        finally:
            os.close(log_fd)
            for fd in fds:
                os.close(fd)
        for w in workers:
            w._send_start()

    def _fork_now(self) -> None:
        """Fork this worker from the fork server (a fresh process instead, if the server fails)."""
        fds, self._fork_fds = self._fork_fds, None
        server = fork_server.obtain()
        try:
            if server is None:
                raise fork_server.ForkServerError("none could be started")
            env = self._environment()
            env.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
            self._pid = server.fork(fds, env, str(self._log_path), START_TIMEOUT)
            self._server = server
        except fork_server.ForkServerError as err:
            logger.info("the fork server failed (%s); starting the %s worker as a fresh process", err, self.role)
            if server is not None:
                fork_server.forget(server)
            Worker._spawn([self], [fds])  # (closes the pipe ends)
            return
        for fd in fds:  # the forked worker has its own copies
            os.close(fd)
        self._send_start()

    def _environment(self) -> dict:
        """The worker's environment: this process's, with the worker's own variables on top."""
        env = dict(os.environ)
        env.update(self._env or {})
        return env

    def _send_start(self) -> None:
        try:
            self._to.send_bytes(pickle.dumps({"role": self.role, "sys_path": list(sys.path),
                                              "payload": self._payload}))
        except OSError:  # it died at once (BrokenPipeError): wait_ready reports it with the exit status
            pass

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until the worker has imported everything; raises WorkerFailure if it dies or hangs."""
        self.start()
        if self._ready:
            return
        if self._fork_fds is not None:
            self._fork_now()
        reply = self._receive(timeout, "starting")
        if reply.get("error"):
            self.kill()
            raise WorkerFailure("crash", f"the {self.role} worker could not start: {reply['error']}")
        if self._proc is None or reply.get("pid") != self._proc.pid:
            self._pid = reply.get("pid")
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
            if not self._alive() and not self._from.poll(0):
                self._reap_failure("crash", what)
            if deadline is not None and time.monotonic() >= deadline:
                self.kill()
                raise WorkerFailure("timeout", f"ran past the {timeout:g} s limit; the {self.role} worker was killed")

    def _alive(self) -> bool:
        if self._pid is not None:
            try:
                os.kill(self._pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:  # pragma: no cover
                return True
            return True
        if self._proc is not None:
            return self._proc.poll() is None
        return True  # forked, not ready yet: the pipe tells

    def _reap_failure(self, kind: str, what: str):
        code = None
        if self._pid is None and self._proc is not None:
            try:
                code = self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                code = None
        elif self._pid is not None and self._server is not None:  # its exit status is the fork server's to read
            code = self._server.exit_code(self._pid)
        tail = self.log_tail()
        self.kill()
        state = describe_exit(code) if code is not None else "died (killed, crashed or exited)"
        msg = f"the {self.role} worker {state} during {what}"
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
        proc, pid, started = self._proc, self._pid, self._to is not None
        self._proc = self._pid = self._server = None
        self._ready = False
        fds, self._fork_fds = self._fork_fds or (), None
        fork_server.close_fds(fds)  # never forked
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        elif proc is not None and proc.poll() is None:
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
        if started:
            self.restarts += 1
        self._remove_log()

    def send_exit(self) -> None:
        """Ask the worker to exit without waiting (see :meth:`close`)."""
        if self._to is not None:
            try:
                self._to.send_bytes(cloudpickle.dumps({"op": "exit"}))
            except OSError:
                pass

    def close(self) -> None:
        """Ask the worker to exit, then make sure it has."""
        if self._to is not None and self._fork_fds is None and self._alive():  # (one never forked: just closed)
            try:
                self._to.send_bytes(cloudpickle.dumps({"op": "exit"}))
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:  # EOF on the pipe: it has exited
                    if self._from.poll(0.05):
                        try:
                            self._from.recv_bytes()
                        except EOFError:
                            break
                if self._proc is not None and self._pid is None:
                    self._proc.wait(timeout=5)
            except (OSError, EOFError, subprocess.TimeoutExpired):
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
