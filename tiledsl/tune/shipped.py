"""Shipped tuned configs: ``<dir>/<device>/<factory>.json``, written by ``python -m tiledsl.tune`` and read at run
time through ``@autotune(..., configs_dir=DIR)`` or ``TILEDSL_TUNED_CONFIGS=DIR``.

A file holds the winners by bucket (each with the shape it was tuned on and its latency), a ``default`` (the most
common winner), the device, and the tiledsl / TVM / nvcc versions it was tuned with::

    {"format": 1, "factory": "pkg.mod:matmul", "name": "matmul", "device": "NVIDIA_H200", "target_kind": "cuda",
     "versions": {"tiledsl": "0.1.0", "tvm": "0.27.0", "nvcc": "..."}, "bucketing": {...},
     "buckets": [{"bucket": [64, 4096, 4096], "config": {...}, "latency_ms": 0.01, "shape": {...}}, ...],
     "default": {...}}

Look-up: the call's bucket if the file has it, else the nearest tuned bucket (logged at INFO), else ``default``.
A file of another device (no folder for this one) or of other versions is used with a WARNING, or ignored when
``TILEDSL_AUTO_TUNING_FORCE_RETUNE=1`` (the call then tunes, or takes its default when tuning is off).
"""
from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

from .. import config as env
from ..cache.key import canonical_json
from ..errors import ConfigError
from . import buckets as bk

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


def device_name(target_kind: str) -> str:
    """The folder name of the device tuning happens on: the GPU's name (``NVIDIA_H200``) or ``cpu-<machine>``."""
    if target_kind == "cuda":
        import torch

        if torch.cuda.is_available():
            raw = torch.cuda.get_device_name(torch.cuda.current_device())
        else:
            raw = "cuda-unknown"
    else:
        import platform

        raw = f"cpu-{platform.machine() or 'unknown'}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("_") or "unknown"


def software_versions(target_kind: str) -> dict:
    """The versions a tuned config depends on: tiledsl, TVM and (CUDA) nvcc."""
    import tvm

    from .. import __version__
    from ..cache.key import nvcc_version

    versions = {"tiledsl": __version__, "tvm": tvm.__version__}
    if target_kind == "cuda":
        versions["nvcc"] = nvcc_version()
    return versions


def default_config(entries: list[dict]) -> dict | None:
    """The most common winner among the buckets (the first one seen on a tie)."""
    if not entries:
        return None
    counts = Counter(canonical_json(e["config"]) for e in entries)
    best = counts.most_common(1)[0][0]
    return next(e["config"] for e in entries if canonical_json(e["config"]) == best)


def file_path(root, device: str, name: str) -> Path:
    """Where the shipped configs of factory ``name`` for ``device`` live under ``root``."""
    return Path(root) / device / f"{name}.json"


def write_file(path: Path, data: dict) -> None:
    """Write ``data`` (recomputing ``default``) atomically: a reader sees the old file or the new one."""
    data = dict(data, format=FORMAT_VERSION, default=default_config(data.get("buckets", [])))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, default=repr)  # configs keep their key order
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_file(path: Path) -> dict:
    """A shipped file's contents, checked; a malformed file is a ConfigError naming it."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"shipped tuned configs {path} cannot be read: {err}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION or not isinstance(
            data.get("buckets"), list):
        raise ConfigError(f"{path} is not a tiledsl tuned-configs file (format {FORMAT_VERSION}, written by "
                          f"python -m tiledsl.tune)")
    return data


class ShippedConfigs:
    """The shipped file of one factory for this device, loaded once; ``lookup(bucket)`` gives a config."""

    def __init__(self, data: dict, path: Path, trusted: bool):
        self.data, self.path, self.trusted = data, path, trusted
        self.entries = data["buckets"]
        self._by_label = {bk.label(e["bucket"]): e for e in self.entries}

    @classmethod
    def find(cls, root, name: str, target_kind: str) -> "ShippedConfigs | None":
        """The file for factory ``name`` under ``root``: this device's, else another device's (WARNING); None if
        there is none, or if it does not match and TILEDSL_AUTO_TUNING_FORCE_RETUNE=1."""
        if root is None:
            return None
        root = Path(root)
        device = device_name(target_kind)
        path = file_path(root, device, name)
        problems = []
        if not path.is_file():
            others = sorted(root.glob(f"*/{name}.json"))
            if not others:
                logger.debug("no shipped tuned configs for %s under %s", name, root)
                return None
            path = others[0]
            problems.append(f"it was tuned on {path.parent.name}, not on this device ({device})")
        data = read_file(path)
        versions = software_versions(target_kind)
        stored = data.get("versions") or {}
        diff = {k: (stored.get(k), v) for k, v in versions.items() if stored.get(k) != v}
        if diff:
            problems.append("versions differ: " + ", ".join(f"{k} {a} (file) vs {b} (here)"
                                                           for k, (a, b) in sorted(diff.items())))
        if problems and env.force_retune():
            logger.warning("ignoring shipped tuned configs %s (TILEDSL_AUTO_TUNING_FORCE_RETUNE=1): %s", path,
                           "; ".join(problems))
            return None
        if problems:
            logger.warning("using shipped tuned configs %s although %s; tune again for this setup with "
                           "python -m tiledsl.tune, or set TILEDSL_AUTO_TUNING_FORCE_RETUNE=1 to ignore it", path,
                           "; ".join(problems))
        return cls(data, path, trusted=not problems)

    def lookup(self, bucket) -> tuple[dict | None, str]:
        """``(config, how)`` for a call in ``bucket``: how is ``shipped`` (its bucket), ``nearest`` or
        ``shipped_default``; ``(None, "")`` when the file has neither."""
        hit = self._by_label.get(bk.label(bucket))
        if hit is not None:
            return dict(hit["config"]), "shipped"
        i = bk.nearest(bucket, [e["bucket"] for e in self.entries])
        if i is not None:
            entry = self.entries[i]
            logger.info("%s: bucket %s is not in %s; using the nearest tuned bucket %s: %s", self.data.get("name"),
                        bk.label(bucket), self.path, bk.label(entry["bucket"]), entry["config"])
            return dict(entry["config"]), "nearest"
        if self.data.get("default") is not None:
            logger.info("%s: bucket %s is not comparable with the tuned buckets of %s; using its default %s",
                        self.data.get("name"), bk.label(bucket), self.path, self.data["default"])
            return dict(self.data["default"]), "shipped_default"
        return None, ""
