"""A disk store of folders addressed by key, written atomically and safely across processes.

An entry is staged in a private folder next to the store and renamed into place with ``os.rename``, which is atomic
on one file system: a reader sees a whole entry or none. When two processes write one key, the first rename wins
and the other discards its copy, so one valid entry remains.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from .. import config

logger = logging.getLogger(__name__)

_STALE_STAGING_SECONDS = 3600


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

        If another process created the entry first, its entry is kept and ours is dropped.
        """
        final = self.path_for(key)
        if final.is_dir():
            return final
        staging_root = self.root / ".staging"
        staging_root.mkdir(parents=True, exist_ok=True)
        self._remove_stale(staging_root)
        staging = Path(tempfile.mkdtemp(prefix=f"{key[:16]}-{os.getpid()}-", dir=staging_root))
        try:
            write(staging)
            final.parent.mkdir(parents=True, exist_ok=True)
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

    @staticmethod
    def _remove_stale(staging_root: Path) -> None:
        now = time.time()
        for entry in staging_root.iterdir():
            try:
                if now - entry.stat().st_mtime > _STALE_STAGING_SECONDS:
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                pass
