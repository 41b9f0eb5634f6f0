"""Cache keys: sha256 of canonical JSON holding everything that changes a result."""
from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from pathlib import Path


def canonical_json(payload) -> str:
    """JSON with sorted keys and no whitespace; non-JSON values are written as their repr."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=repr)


def content_key(payload) -> str:
    """The sha256 hex digest of ``payload``'s canonical JSON."""
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


@functools.lru_cache(maxsize=1)
def nvcc_version() -> str | None:
    """``nvcc --version``'s last line, or None without nvcc."""
    from ..config import nvcc_path

    nvcc = nvcc_path()
    if not nvcc:
        return None
    try:
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.strip().splitlines()
    return lines[-1] if lines else None


@functools.lru_cache(maxsize=1)
def _gpu_identity() -> dict | None:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return None
    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    return {"name": props.name, "capability": list(torch.cuda.get_device_capability())}


@functools.lru_cache(maxsize=1)
def package_source_hash() -> str:
    """sha256 over tiledsl's own Python sources, so a changed pass or lowering never serves a stale binary."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def environment_stamp(target_kind: str, with_device: bool = False) -> dict:
    """Versions that change a compiled artifact (and, for tuning results, the device it was measured on)."""
    import tvm

    from .. import __version__

    stamp = {"tiledsl": __version__, "tiledsl_source": package_source_hash(), "tvm": tvm.__version__}
    if target_kind == "cuda":
        stamp["nvcc"] = nvcc_version()
        if with_device:
            stamp["gpu"] = _gpu_identity()
    elif with_device:
        import platform

        stamp["cpu"] = platform.processor() or platform.machine()
    return stamp
