"""The disk cache of bucket winners: ``<cache>/autotune/buckets/<key[:2]>/<key>.json``.

One small JSON file per (factory, bucketing, bucket, config space, compile and profile settings, device and
versions): the winning config, the shape it was tuned on and its latency. A process that meets a new size in a
bucket tuned by an earlier process compiles the winner for that size without tuning. Writes are atomic
(temporary file, then ``os.replace``); an unreadable file is a miss.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path

from .. import config as env
from ..cache.key import content_key

logger = logging.getLogger(__name__)


def _path(key: str) -> Path:
    return env.cache_dir() / "autotune" / "buckets" / key[:2] / f"{key}.json"


def bucket_key(payload: dict) -> str:
    """The cache key of a bucket (sha256 of the canonical JSON of ``payload``)."""
    return content_key({"v": 1, **payload})


def load(key: str) -> dict | None:
    """The record for ``key`` (``config``, ``latency_ms``, ``ref_latency_ms``, ``shape``), or None (missing,
    unreadable, cache off, or TILEDSL_AUTO_TUNING_FORCE_RETUNE=1)."""
    if env.tuning_cache_disabled() or env.force_retune():
        return None
    path = _path(key)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        logger.warning("ignoring unreadable bucket cache file %s: %s", path, err)
        return None
    return record if isinstance(record, dict) and isinstance(record.get("config"), dict) else None


def store(key: str, record: dict) -> None:
    """Write the record for ``key`` atomically (nothing when the tuning cache is off)."""
    if env.tuning_cache_disabled():
        return
    path = _path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(dict(record, time=time.time()), f, indent=1, default=repr)  # the config keeps its key order
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
