"""The fork server: one long-lived process per tuning process that has imported torch, TVM and tiledsl and forks
worker processes on request, so that every tuning run after the first starts its workers in milliseconds instead
of paying the 3-5 s of imports again (a decorated kernel tuned per shape bucket, a tuning script's second
program, the test suite).

The server is ``python -m tiledsl.autotuner._child`` with ``TILEDSL_WORKER_MODE=server`` (see ``_child.py``); the
two talk over a Unix socket pair. A fork request carries the worker's two pipe ends (as file descriptors), its
environment (this process's ``os.environ`` at the time of the request, plus the worker's own variables), the
working directory and the log file; the server forks, the child takes that environment and serves the pipes
exactly like a worker started on its own. The server never touches CUDA (a forked child that finds CUDA touched
re-executes Python, as the workers of a builder group do).

What the server imported at start stays: its imports depend on the environment outside tiledsl's own switches
(``TILEDSL_*`` are read at call time, never at import; pytest's ``PYTEST_CURRENT_TEST`` names each test), on
``sys.executable`` and on the working directory, so a change of any of those starts a new server.
``TILEDSL_WORKER_FORK_SERVER=0`` turns the server off: each tuning run starts its workers as fresh processes. A
server that cannot start, or dies, costs nothing but its time: the worker is then started as a fresh process.
"""
from __future__ import annotations

import atexit
import os
import pickle
import socket
import struct
import subprocess
import sys
import threading

from .. import config

_HEADER = struct.Struct("!Q")  # the length of the pickled message that follows


class ForkServerError(Exception):
    """The fork server could not start or answer (the caller starts its worker as a fresh process)."""


def send(sock: socket.socket, message: dict, fds: tuple = ()) -> None:
    """Send ``message`` (a picklable dict) over ``sock``, with the file descriptors ``fds`` attached."""
    data = pickle.dumps(message)
    header = _HEADER.pack(len(data))
    if fds:
        socket.send_fds(sock, [header], list(fds))
    else:
        sock.sendall(header)
    sock.sendall(data)


def _receive_exactly(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            raise EOFError("the fork server closed its socket")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket, max_fds: int = 0) -> tuple[dict, list]:
    """One message (and the file descriptors sent with it) from ``sock``; EOFError when the other side is gone."""
    if max_fds:
        header, fds, _, _ = socket.recv_fds(sock, _HEADER.size, max_fds)
        if not header:
            raise EOFError("the socket was closed")
        header += _receive_exactly(sock, _HEADER.size - len(header))
    else:
        header, fds = _receive_exactly(sock, _HEADER.size), []
    (length,) = _HEADER.unpack(header)
    return pickle.loads(_receive_exactly(sock, length)), list(fds)


def close_fds(fds) -> None:
    """Close each file descriptor of ``fds``, ignoring those already closed."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


#: variables that change all the time and that no import reads: pytest names the running test in one
_VOLATILE = frozenset({"PYTEST_CURRENT_TEST"})


def _identity() -> tuple:
    """What the server's imports depend on: a change starts a new server (``TILEDSL_*`` are read at call time)."""
    env = tuple(sorted((k, v) for k, v in os.environ.items() if not k.startswith("TILEDSL_") and k not in _VOLATILE))
    return sys.executable, os.getcwd(), env


class ForkServer:
    """The tuning process's handle on one fork server."""

    def __init__(self):
        self.identity = _identity()
        self.owner = os.getpid()  # a process forked from the owner (a data loader worker) must not use it
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock = ours
        self._lock = threading.Lock()
        self._ready = False
        env = dict(os.environ)
        env.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # torch.cuda.is_available() must not touch CUDA
        env.update(TILEDSL_WORKER_MODE="server", TILEDSL_WORKER_FDS=str(theirs.fileno()),
                   TILEDSL_WORKER_PARENT=str(os.getpid()))
        try:
            self._proc = subprocess.Popen([sys.executable, "-m", "tiledsl.autotuner._child"],
                                          pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                          cwd=os.getcwd(), start_new_session=True)
        except OSError as err:
            ours.close()
            raise ForkServerError(f"could not start: {err}") from None
        finally:
            theirs.close()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self.owner == os.getpid() and self._proc.poll() is None

    def _call(self, message: dict, fds: tuple = (), timeout: float | None = None) -> dict:
        """Send a request and return the server's reply (under the lock: one request at a time)."""
        with self._lock:
            try:
                self._sock.settimeout(timeout)
                if not self._ready:
                    reply, _ = receive(self._sock)
                    if reply.get("error"):
                        raise ForkServerError(f"could not import: {reply['error']}")
                    self._ready = True
                send(self._sock, message, fds)
                reply, _ = receive(self._sock)
                return reply
            except (OSError, EOFError, pickle.PickleError) as err:
                self.close()
                raise ForkServerError(f"stopped answering ({type(err).__name__}: {err})") from None

    def fork(self, fds: tuple, env: dict, log: str, timeout: float) -> int:
        """Fork a worker that serves the pipe ends ``fds`` (read, write) with ``env`` as its environment and its
        output appended to ``log``; returns its process id."""
        reply = self._call({"op": "fork", "env": env, "cwd": os.getcwd(), "log": log}, fds, timeout)
        if "pid" not in reply:
            raise ForkServerError(f"could not fork: {reply.get('error')}")
        return int(reply["pid"])

    def exit_code(self, pid: int, timeout: float = 5.0) -> int | None:
        """The exit status of a worker the server forked, in ``Popen.returncode`` form (``-signal`` when a signal
        killed it); None when it is still running after ``timeout`` seconds or the server does not know it."""
        try:
            return self._call({"op": "exit_code", "pid": pid, "timeout": timeout}, timeout=timeout + 5).get("code")
        except ForkServerError:
            return None

    def close(self) -> None:
        """Stop the server (its workers run on: each is killed by its own handle). In a process forked from the
        owner, only this process's copy of the socket is closed."""
        try:
            self._sock.close()
        except OSError:
            pass
        if self.owner != os.getpid():
            return
        if self._proc.poll() is None:
            self._proc.kill()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass


_current: ForkServer | None = None
_current_lock = threading.Lock()


def enabled() -> bool:
    """False with ``TILEDSL_WORKER_FORK_SERVER=0``: every worker is started as a fresh process."""
    return config.worker_fork_server()


def obtain() -> ForkServer | None:
    """The fork server for this process's present environment, started when there is none (or the environment
    changed); None when it cannot be started (the caller starts a fresh process instead)."""
    global _current
    with _current_lock:
        server = _current
        if server is not None and (server.owner != os.getpid() or not server.alive()
                                   or server.identity != _identity()):
            server.close()
            server = _current = None
        if server is None:
            try:
                server = _current = ForkServer()
            except ForkServerError:
                return None
        return server


def forget(server: ForkServer) -> None:
    """Stop ``server`` and stop using it (it failed a request)."""
    global _current
    with _current_lock:
        if _current is server:
            _current = None
    server.close()


def shutdown() -> None:
    """Stop this process's fork server, if any (at exit, and for tests)."""
    global _current
    with _current_lock:
        server, _current = _current, None
    if server is not None:
        server.close()


def current_pid() -> int | None:
    """The process id of the running fork server, None when there is none."""
    server = _current
    return server.pid if server is not None and server.alive() else None


atexit.register(shutdown)

