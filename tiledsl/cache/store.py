"""A disk store of folders addressed by key, written atomically and safely across processes.

An entry is staged in a private folder next to the store and renamed into place with ``os.rename``, which is atomic
on one file system: a reader sees a whole entry or none. When two processes write one key, the first rename wins
and the other discards its copy, so one valid entry remains. Folders are created 0700 and files 0600 (0700 for
libraries) whatever the umask. A file standing where a folder of the store should be is removed (with a warning);
a store that cannot be written to keeps the entry in a private temporary folder of this process (with a warning),
so a broken cache costs a rebuild, never the caller's program.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .. import config
from .folders import make_private_dirs, make_private_files, process_temp_dir, remove_stale

logger = logging.getLogger(__name__)

_STAGING = ".staging"


class DiskStore:
    """Folders under ``<TILEDSL_CACHE_DIR>/<namespace>/<key[:2]>/<key>``."""

    def __init__(self, namespace: str, root: Path | None = None):
        self.root = Path(root) if root is not None else config.cache_dir() / namespace

    def path_for(self, key: str) -> Path:
        """Where the entry for ``key`` lives (whether or not it exists)."""
        return self.root / key[:2] / key

    def get(self, key: str) -> Path | None:
        """The entry's folder, or None when there is none."""
        path = self.path_for(key)
        return path if path.is_dir() else None

    def put(self, key: str, write: Callable[[Path], None]) -> Path:
        """Create the entry by calling ``write(staging_folder)``; returns the entry's folder.

        If another process created the entry first, its entry is kept and ours is dropped. When the store cannot be
        written to, the entry goes to a private temporary folder of this process instead (a warning says why).
        """
        final = self.path_for(key)
        if final.is_dir():
            return final
        try:
            staging_root = self._folder(self.root / _STAGING)
            remove_stale(staging_root, "")
            staging = Path(tempfile.mkdtemp(prefix=f"{key[:16]}-{os.getpid()}-", dir=staging_root))
        except OSError as err:
            return self._put_elsewhere(key, write, err)
        try:
            write(staging)
            make_private_files(staging)
            self._folder(final.parent)
            self._clear_non_folder(final)
            try:
                os.rename(staging, final)
            except OSError:
                if not final.is_dir():
                    raise
                logger.debug("cache entry %s was written by another process first", key)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return final

    def remove(self, key: str) -> None:
        """Delete an entry (a corrupt one, say)."""
        path = self.path_for(key)
        if path.is_dir():
            trash = path.with_name(f".{path.name}.trash-{os.getpid()}")
            try:
                os.rename(path, trash)
            except OSError:
                return
            shutil.rmtree(trash, ignore_errors=True)
        elif os.path.lexists(path):
            self._clear_non_folder(path)

    def _folder(self, path: Path) -> Path:
        """``path`` as a private folder, replacing files that stand where it or its parents in the store should."""
        for part in [*reversed(path.relative_to(self.root).parents), path.relative_to(self.root)]:
            self._clear_non_folder(self.root / part)
        return make_private_dirs(path)

    @staticmethod
    def _clear_non_folder(path: Path) -> None:
        if os.path.lexists(path) and not path.is_dir():
            logger.warning("removing %s from the tiledsl cache: a folder belongs there (the entry is rebuilt)", path)
            os.unlink(path)

    def _put_elsewhere(self, key: str, write: Callable[[Path], None], err: OSError) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=f"{key[:16]}-", dir=make_private_dirs(process_temp_dir() / "entries")))
        logger.warning("the tiledsl cache folder %s cannot be written to (%s: %s); this entry is kept in %s until the "
                       "process exits: fix the folder's permissions or set TILEDSL_CACHE_DIR", self.root,
                       type(err).__name__, err, folder)
        write(folder)
        make_private_files(folder)
        return folder
