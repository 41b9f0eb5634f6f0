"""Our nvcc invocation: CUDA source -> cubin for one arch, with a hard timeout and a content-addressed cache.

``compile_cubin(source, arch, flags)`` runs ``nvcc -cubin -O3 -std=c++17 -gencode=arch=compute_XX,code=sm_XX`` plus
the user's flags, kills nvcc after ``TILEDSL_NVCC_TIMEOUT`` seconds (:class:`CompileTimeoutError`) and turns a
failure into a :class:`CompileError` that quotes nvcc's first error lines. Cubins are cached in a
:class:`~tiledsl.cache.DiskStore` ("cubin") keyed by (source, flags, arch, nvcc version), with the cubin's sha256
written next to it and checked on each hit: a truncated or modified cubin is rebuilt (with a warning), never used.
nvcc's scratch files (its own intermediates included, through TMPDIR) go to ``TILEDSL_TMP_DIR`` and are removed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from .. import config
from ..cache import DiskStore, content_key
from ..cache.folders import private_scratch
from ..cache.key import nvcc_version
from ..errors import CompileError, CompileTimeoutError

logger = logging.getLogger(__name__)

CUBIN = "kernel.cubin"
DIGEST = "digest.json"  # {"format": 1, "sha256": <the cubin's>}
_DIGEST_FORMAT = 1
BASE_FLAGS = ("-O3", "-std=c++17", "-diag-suppress=177,550")  # 177/550: TVM's unused cse temporaries
_ARCH = re.compile(r"^sm_(\d+)([a-z]?)$")


def gencode_flag(arch: str) -> str:
    """``-gencode=arch=compute_90a,code=sm_90a`` for ``arch`` ("sm_90a", "sm_80", ...)."""
    m = _ARCH.match(str(arch))
    if not m:
        raise CompileError(f"CUDA arch {arch!r} is not of the form sm_XX (e.g. sm_80, sm_90a)")
    num, suffix = m.groups()
    return f"-gencode=arch=compute_{num}{suffix},code=sm_{num}{suffix}"


def nvcc_command(nvcc: str, src: Path, out: Path, arch: str, flags=()) -> list[str]:
    """The nvcc command line that builds ``src`` into the cubin ``out``."""
    return [nvcc, "-cubin", *BASE_FLAGS, gencode_flag(arch), *[str(f) for f in flags], "-o", str(out), str(src)]


def cubin_key(source: str, arch: str, flags=()) -> str:
    """The cache key of a cubin."""
    return content_key({"source": source, "arch": arch, "flags": [str(f) for f in flags],
                        "base": list(BASE_FLAGS), "nvcc": nvcc_version()})


def _require_nvcc() -> str:
    nvcc = config.nvcc_path()
    if not nvcc:
        raise CompileError("nvcc was not found: set TILEDSL_NVCC or CUDA_HOME, or put nvcc on PATH")
    return nvcc


def _error_excerpt(stderr: str, limit: int = 12) -> str:
    lines = [l for l in stderr.splitlines() if l.strip()]
    errors = [l for l in lines if "error" in l.lower()]
    return "\n".join((errors or lines)[:limit])


def run_nvcc(source: str, arch: str, flags=(), workdir: Path | None = None) -> bytes:
    """Compile ``source`` to a cubin with nvcc (no cache), in a private scratch folder under ``workdir`` (default
    ``TILEDSL_TMP_DIR``) that is removed afterwards."""
    nvcc = _require_nvcc()
    timeout = config.nvcc_timeout()
    tmp = private_scratch(Path(workdir) if workdir is not None else config.tmp_dir(), "tiledsl-nvcc-")
    try:
        src, out = tmp / "kernel.cu", tmp / CUBIN
        src.write_text(source)
        cmd = nvcc_command(nvcc, src, out, arch, flags)
        env = dict(os.environ, TMPDIR=str(tmp))  # nvcc's own intermediates (cicc, ptxas) go there too
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise CompileTimeoutError(f"nvcc ran past TILEDSL_NVCC_TIMEOUT={timeout:g} s building for {arch}; "
                                      f"raise the limit or simplify the kernel") from None
        except OSError as err:
            raise CompileError(f"could not run nvcc ({nvcc}): {err}") from None
        if proc.returncode != 0:
            raise CompileError(f"nvcc failed for {arch} (exit {proc.returncode}):\n{_error_excerpt(proc.stderr)}\n"
                               f"command: {' '.join(cmd)}")
        return out.read_bytes()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cubin_store() -> DiskStore:
    """The disk store of cubins."""
    return DiskStore("cubin")


def _cached_cubin(folder: Path) -> bytes | None:
    """The cubin of a cache entry when its recorded sha256 matches, else None (with a warning)."""
    try:
        digest = json.loads((folder / DIGEST).read_text())
        binary = (folder / CUBIN).read_bytes()
    except (OSError, ValueError) as err:
        logger.warning("rebuilding the cubin: cache entry %s cannot be read (%s)", folder, err)
        return None
    if not isinstance(digest, dict) or digest.get("format") != _DIGEST_FORMAT:
        logger.warning("rebuilding the cubin: cache entry %s is of another format", folder)
        return None
    if hashlib.sha256(binary).hexdigest() != digest.get("sha256"):
        logger.warning("rebuilding the cubin: %s does not match the sha256 recorded when it was written (truncated "
                       "or modified)", folder / CUBIN)
        return None
    return binary


def compile_cubin(source: str, arch: str, flags=()) -> bytes:
    """A cubin for ``source`` on ``arch``: from the cache (checked against its sha256), else built by nvcc and
    cached."""
    flags = [str(f) for f in flags]
    if config.disk_cache_disabled():
        return run_nvcc(source, arch, flags)
    key = cubin_key(source, arch, flags)
    store = cubin_store()
    hit = store.get(key)
    if hit is not None:
        binary = _cached_cubin(hit)
        if binary is not None:
            return binary
        store.remove(key)
    binary = run_nvcc(source, arch, flags)

    def write(folder: Path) -> None:
        (folder / CUBIN).write_bytes(binary)
        (folder / "kernel.cu").write_text(source)
        digest = {"format": _DIGEST_FORMAT, "sha256": hashlib.sha256(binary).hexdigest()}
        (folder / DIGEST).write_text(json.dumps(digest))

    store.put(key, write)
    return binary
