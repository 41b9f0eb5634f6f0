"""Cache and scratch folders only their owner can use: created 0700 whatever the umask, checked before use.

A cache folder holds native code that tiledsl loads and runs, so a folder that another user owns or that everyone
may write to is refused (:class:`~tiledsl.errors.CacheFolderError`), as pip and Triton do for theirs. A folder
that cannot be created or written to is replaced, with a warning, by a private temporary folder of this process
(removed when it exits), so a read-only home never stops a program. Each folder is checked once per process.
"""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path

from ..errors import CacheFolderError

logger = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PRIVATE_EXECUTABLE = 0o700
STALE_SECONDS = 3600

_lock = threading.Lock()
_checked: dict[tuple[str, str], Path] = {}
_process_dir: tuple[int, Path] | None = None  # (pid that made it, folder)


def make_private_dirs(path) -> Path:
    """Create ``path`` and its missing parents with mode 0700 (whatever the umask); existing folders are left as
    they are. Raises OSError (NotADirectoryError when a file stands where a folder should be)."""
    path = Path(path)
    missing = []
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR)
        except FileExistsError:
            continue  # another process made it first
        os.chmod(folder, PRIVATE_DIR)  # the umask may have removed bits from mkdir's mode
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a folder")
    return path


def make_private_files(folder: Path) -> None:
    """Give every file under ``folder`` mode 0600 (0700 when executable or a shared library), folders 0700."""
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), PRIVATE_DIR)
        for name in files:
            path = os.path.join(root, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                continue
            executable = mode & 0o111 or name.endswith((".so", ".dylib", ".dll"))
            os.chmod(path, PRIVATE_EXECUTABLE if executable else PRIVATE_FILE)
    os.chmod(folder, PRIVATE_DIR)


def check_trusted(path: Path, variable: str) -> None:
    """Raise CacheFolderError when ``path`` is owned by another user or writable by everyone."""
    st = os.stat(path)
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise CacheFolderError(
            f"the folder {path} belongs to another user (uid {st.st_uid}); tiledsl loads and runs native code from "
            f"it, so it uses only folders of yours: set {variable} to a folder you own")
    if st.st_mode & stat.S_IWOTH:
        raise CacheFolderError(
            f"the folder {path} can be written by every user (mode {stat.S_IMODE(st.st_mode):o}); tiledsl loads "
            f"and runs native code from it, so anyone could replace a kernel: run `chmod 700 {path}` or set "
            f"{variable} to a private folder")


def process_temp_dir() -> Path:
    """A private folder in the system's temporary folder for this process, removed when the process exits."""
    global _process_dir
    with _lock:
        if _process_dir is None or _process_dir[0] != os.getpid():  # a forked child makes its own
            _remove_dead_process_dirs(Path(tempfile.gettempdir()))
            folder = Path(tempfile.mkdtemp(prefix=f"tiledsl-{os.getpid()}-"))
            _process_dir = (os.getpid(), folder)
        return _process_dir[1]


def _remove_dead_process_dirs(root: Path) -> None:
    """Remove ``tiledsl-<pid>-*`` folders of ours whose process is gone (killed before its exit handler ran)."""
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        parts = entry.name.split("-")
        if len(parts) < 3 or parts[0] != "tiledsl" or not parts[1].isdigit():
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if st.st_uid != os.getuid() or now - st.st_mtime < STALE_SECONDS or not stat.S_ISDIR(st.st_mode):
                continue
            os.kill(int(parts[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue


@atexit.register
def _remove_process_dir() -> None:
    if _process_dir is not None and _process_dir[0] == os.getpid():
        shutil.rmtree(_process_dir[1], ignore_errors=True)


def usable_folder(path, variable: str, share_world_writable: bool = False) -> Path:
    """``path`` created (0700) and checked, once per process; a private temporary folder, with a warning, when
    ``path`` cannot be created or written to. ``share_world_writable``: a world-writable folder (``/tmp``) is not
    refused but holds a private ``tiledsl-<uid>`` folder, which is used instead."""
    path = Path(path).expanduser()
    memo = (str(path), variable)
    with _lock:
        known = _checked.get(memo)
    if known is not None:
        return known
    try:
        make_private_dirs(path)
        if share_world_writable and os.stat(path).st_mode & stat.S_IWOTH:
            path = make_private_dirs(path / f"tiledsl-{os.getuid() if hasattr(os, 'getuid') else 'user'}")
        check_trusted(path, variable)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(f"{path} is not writable")
        probe = tempfile.mkstemp(prefix=".probe-", dir=path)  # os.access is not the truth on every file system
        os.close(probe[0])
        os.unlink(probe[1])
        resolved = path
    except OSError as err:
        resolved = process_temp_dir() / variable.lower()
        make_private_dirs(resolved)
        logger.warning("%s=%s cannot be used (%s: %s); using the private temporary folder %s for this process "
                       "instead (nothing is kept after it exits); set %s to a writable folder of yours",
                       variable, path, type(err).__name__, err, resolved, variable)
    with _lock:
        _checked[memo] = resolved
    return resolved


def private_scratch(root: Path, prefix: str) -> Path:
    """A fresh private folder under ``root`` (which must exist) for one build step; the caller removes it."""
    remove_stale(root, prefix)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=root))


def remove_stale(root: Path, prefix: str, age: float = STALE_SECONDS) -> None:
    """Remove folders under ``root`` named ``prefix*`` older than ``age`` seconds (left by a killed process)."""
    now = time.time()
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime > age:
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            pass


def forget_checked() -> None:
    """Check every folder again on its next use (for tests that change folders at run time)."""
    with _lock:
        _checked.clear()
