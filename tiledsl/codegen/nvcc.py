"""Our nvcc invocation: CUDA source -> cubin for one arch, with a hard timeout and a content-addressed cache.

``compile_cubin(source, arch, flags)`` runs ``nvcc -cubin -O3 -std=c++17 -gencode=arch=compute_XX,code=sm_XX`` plus
the user's flags, kills nvcc after ``TILEDSL_NVCC_TIMEOUT`` seconds (:class:`CompileTimeoutError`) and turns a
failure into a :class:`CompileError` that quotes nvcc's first error lines. Cubins are cached in a
:class:`~tiledsl.cache.DiskStore` ("cubin") keyed by (source, flags, arch, nvcc version), with the cubin's sha256
written next to it and checked on each hit: a truncated or modified cubin is rebuilt (with a warning), never used.
nvcc runs with ``--resource-usage``: :func:`build_cubin` also gives each kernel's registers and spilled bytes (cached
with the cubin), which the build reports in ``kernel_info["resources"]``.
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
from dataclasses import dataclass, field
from pathlib import Path

from .. import config
from ..cache import DiskStore, content_key
from ..cache.folders import private_scratch
from ..cache.key import nvcc_version
from ..errors import CompileError, CompileTimeoutError

logger = logging.getLogger(__name__)

CUBIN = "kernel.cubin"
DIGEST = "digest.json"  # {"format": 1, "sha256": <the cubin's>}
RESOURCES = "resources.json"  # {kernel: {"registers": n, "spill_stores": bytes, ...}} from --resource-usage
_DIGEST_FORMAT = 1
# 177/550: TVM's unused cse temporaries; --resource-usage: each kernel's registers and spills (CubinBuild.resources)
BASE_FLAGS = ("-O3", "-std=c++17", "-diag-suppress=177,550", "--resource-usage")
_ARCH = re.compile(r"^sm_(\d+)([a-z]?)$")
_ENTRY = re.compile(r"Compiling entry function '([^']+)'")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USED = re.compile(r"Used (\d+) registers")
# ptxas's notes on code it had to change, e.g. (C7519) "warpgroup.arrive is injected ... in function 'k'" and (C7520)
# "Potential Performance Loss: wgmma.mma_async instructions are serialized ..."; the function named where it is
_NOTE = re.compile(r"\(C(\d+)\) (?=.*(?:Performance Loss|is injected))(?:.*in (?:the )?function '([^']+)')?")


@dataclass(frozen=True)
class CubinBuild:
    """A cubin and what ptxas reported for each of its kernels: ``{name: {"registers", "spill_stores",
    "spill_loads", "stack_frame"}}`` (bytes; empty when the report could not be read)."""

    binary: bytes
    resources: dict = field(default_factory=dict)


def parse_resource_usage(report: str) -> dict:
    """Each entry function's registers, spill stores / loads and stack frame (bytes) from nvcc's
    ``--resource-usage`` report, and ``ptxas_notes``: the codes of ptxas's performance notes on it (a note that
    names no function counts for every kernel); a line this does not recognize is skipped (the report is for
    people)."""
    usage, current, notes = {}, None, []
    for line in report.splitlines():
        note = _NOTE.search(line)
        if note:
            notes.append(note.groups())
            continue
        entry = _ENTRY.search(line)
        if entry:
            current = usage.setdefault(entry.group(1), {})
            continue
        if current is None:
            continue
        frame = _FRAME.search(line)
        if frame:
            current.update(stack_frame=int(frame.group(1)), spill_stores=int(frame.group(2)),
                           spill_loads=int(frame.group(3)))
        used = _USED.search(line)
        if used:
            current["registers"] = int(used.group(1))
    usage = {name: info for name, info in usage.items() if "registers" in info}
    for name, info in usage.items():
        codes = sorted({code for code, func in notes if func in (None, name)})
        if codes:
            info["ptxas_notes"] = codes
    return usage


def ptxas_notes(resources: dict) -> set:
    """The codes of ptxas's performance notes on any kernel of ``resources`` (``parse_resource_usage``'s form)."""
    return {code for usage in resources.values() for code in usage.get("ptxas_notes", ())}


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
    """The lines of nvcc's output that name the failure (ptxas's ``fatal`` lines carry the cause, e.g. too few
    registers per thread for an instruction), with a hint for the failures a tile config causes."""
    lines = [l for l in stderr.splitlines() if l.strip()]
    errors = [l for l in lines if "error" in l.lower() or "fatal" in l.lower()]
    text = "\n".join((errors or lines)[:limit])
    if "Insufficient registers" in text:
        text += ("\n(the kernel's threads cannot hold what one instruction needs in registers: at most 65536 "
                 "registers per block are shared by its threads, so use fewer threads per block or a smaller "
                 "accumulator tile per warp)")
    return text


def run_nvcc(source: str, arch: str, flags=(), workdir: Path | None = None) -> bytes:
    """Compile ``source`` to a cubin with nvcc (no cache), in a private scratch folder under ``workdir`` (default
    ``TILEDSL_TMP_DIR``) that is removed afterwards."""
    return _run_nvcc(source, arch, flags, workdir).binary


def _run_nvcc(source: str, arch: str, flags=(), workdir: Path | None = None) -> CubinBuild:
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
        return CubinBuild(out.read_bytes(), parse_resource_usage(proc.stdout + "\n" + proc.stderr))
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


def _cached_resources(folder: Path) -> dict:
    """The resource report stored with a cached cubin ({} when missing or unreadable)."""
    try:
        usage = json.loads((folder / RESOURCES).read_text())
    except (OSError, ValueError):
        return {}
    return usage if isinstance(usage, dict) else {}


def compile_cubin(source: str, arch: str, flags=()) -> bytes:
    """A cubin for ``source`` on ``arch``: from the cache (checked against its sha256), else built by nvcc and
    cached."""
    return build_cubin(source, arch, flags).binary


def build_cubin(source: str, arch: str, flags=()) -> CubinBuild:
    """:func:`compile_cubin` with the kernels' resource usage (registers, spills), cached with the cubin."""
    flags = [str(f) for f in flags]
    if config.disk_cache_disabled():
        return _run_nvcc(source, arch, flags)
    key = cubin_key(source, arch, flags)
    store = cubin_store()
    hit = store.get(key)
    if hit is not None:
        binary = _cached_cubin(hit)
        if binary is not None:
            return CubinBuild(binary, _cached_resources(hit))
        store.remove(key)
    built = _run_nvcc(source, arch, flags)

    def write(folder: Path) -> None:
        (folder / CUBIN).write_bytes(built.binary)
        (folder / "kernel.cu").write_text(source)
        (folder / RESOURCES).write_text(json.dumps(built.resources))
        digest = {"format": _DIGEST_FORMAT, "sha256": hashlib.sha256(built.binary).hexdigest()}
        (folder / DIGEST).write_text(json.dumps(digest))

    store.put(key, write)
    return built
