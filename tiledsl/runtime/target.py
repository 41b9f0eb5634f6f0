"""Target resolution: ``"auto"``, ``"cuda"``, ``"llvm"``/``"cpu"``, a TVM target dict or a ``tvm.target.Target``.

``"cuda"`` means the visible GPU's arch; on a machine without a GPU it means ``DEFAULT_CUDA_ARCH`` (sm_90a, Hopper):
the code builds with nvcc there and runs on such a GPU later. Ask for another arch with a dict such as
``{"kind": "cuda", "arch": "sm_80"}``.
"""
from __future__ import annotations

import functools
import json
import logging

import tvm

from ..errors import TargetError

logger = logging.getLogger(__name__)

_CPU_NAMES = {"llvm", "cpu", "c"}
#: the arch of ``target="cuda"`` when no GPU is visible
DEFAULT_CUDA_ARCH = "sm_90a"


def target_arch(target) -> str:
    """The ``arch`` attribute of a CUDA target ("sm_90a"); '' for other targets and a CUDA target naming none."""
    if target is None or target.kind.name != "cuda" or "arch" not in target.attrs:
        return ""
    return str(target.attrs["arch"])


def sm_number(arch: str) -> int | None:
    """The compute capability an arch string names, as a number (90 for "sm_90a"); None for '' (no arch)."""
    digits = "".join(ch for ch in arch if ch.isdigit())
    return int(digits) if digits else None


def current_arch() -> str:
    """:func:`target_arch` of the target being built (``tvm.target.Target.current``); '' outside one."""
    return target_arch(tvm.target.Target.current(allow_none=True))


@functools.lru_cache(maxsize=1)
def gpu_arch() -> str | None:
    """The arch of the current GPU ("sm_90a" on Hopper), or None without a usable CUDA GPU."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return None
    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability()
    suffix = "a" if major == 9 else ""  # wgmma and TMA multicast need the arch-specific sm_90a
    return f"sm_{major}{minor}{suffix}"


def resolve_target(target="auto") -> tvm.target.Target:
    """A TVM Target for what the user asked for; "auto" means CUDA when a GPU is present, else the CPU."""
    if isinstance(target, tvm.target.Target):
        return _with_arch(target)
    if target is None or target == "auto":
        return _cuda_target(gpu_arch()) if gpu_arch() else tvm.target.Target("llvm")
    if isinstance(target, str):
        if target in _CPU_NAMES:
            return tvm.target.Target("llvm")
        if target == "cuda":
            return _cuda_target(None)
        if target.startswith("{"):
            return resolve_target(json.loads(target))
        try:
            return _with_arch(tvm.target.Target(target))
        except Exception as err:
            raise TargetError(f"unknown target {target!r}: use 'auto', 'cuda', 'llvm', or a dict such as "
                              f"{{'kind': 'cuda', 'arch': 'sm_90a'}}") from err
    if isinstance(target, dict):
        kind = target.get("kind")
        if kind not in ("cuda", "llvm"):
            raise TargetError(f"target kind {kind!r} is not supported: use 'cuda' or 'llvm'")
        if kind == "cuda" and "arch" not in target:
            return _cuda_target(None, extra=target)
        return tvm.target.Target(dict(target))
    raise TargetError(f"target {target!r} is neither a string, a dict nor a tvm.target.Target")


def _cuda_target(arch: str | None, extra: dict | None = None) -> tvm.target.Target:
    arch = arch or gpu_arch()
    if arch is None:
        arch = DEFAULT_CUDA_ARCH
        logger.debug("target 'cuda' without a visible GPU: building for %s (pass {'kind': 'cuda', 'arch': ...} "
                     "for another)", arch)
    spec = dict(extra or {})
    spec.update(kind="cuda", arch=arch)
    return tvm.target.Target(spec)


def _with_arch(target: tvm.target.Target) -> tvm.target.Target:
    if target.kind.name == "cuda" and str(target.attrs.get("arch", "")) in ("", "sm_50"):
        return _cuda_target(gpu_arch())  # TVM's sm_50 default: the GPU's arch, else DEFAULT_CUDA_ARCH
    return target


def target_kind(target: tvm.target.Target) -> str:
    """"cuda" or "llvm"."""
    return target.kind.name
