"""The device properties a Hopper kernel is built for (the SM count of its persistent grid), taken from the target.

A persistent kernel launches one CTA per SM and its split-K choice depends on the SM count, so the count is part of
what a build assumes: on a machine whose visible GPU has the target's arch, the count is that GPU's (read through
the CUDA driver API, which opens no context); otherwise (a build for a named arch on a machine without that GPU) it
is the arch's usual value, 132 for sm_90a (H100 SXM, H200), and the kernel's metadata says it was assumed. The count
enters the kernel cache key (:func:`assumptions`), so a kernel built for 132 SMs is never reused on a 114-SM GPU.
"""
from __future__ import annotations

import ctypes
import functools
import logging

from ...runtime.target import target_arch

logger = logging.getLogger(__name__)

KNOWN_NUM_SMS = {"sm_90a": 132, "sm_90": 132}  # H100 SXM / H200; the H100 PCIe has 114, the H20 78
_ATTR_SM_COUNT, _ATTR_MAJOR, _ATTR_MINOR = 16, 75, 76  # CUdevice_attribute values


@functools.lru_cache(maxsize=None)
def _visible_gpu(ordinal: int) -> tuple[int, int, int] | None:
    """(SM count, major, minor) of visible CUDA device ``ordinal``, or None without a driver or device."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    dev, value = ctypes.c_int(), ctypes.c_int()
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGet(ctypes.byref(dev), ordinal) != 0:
        return None
    out = []
    for attr in (_ATTR_SM_COUNT, _ATTR_MAJOR, _ATTR_MINOR):
        if cuda.cuDeviceGetAttribute(ctypes.byref(value), attr, dev) != 0:
            return None
        out.append(value.value)
    return tuple(out)


def _current_ordinal() -> int:
    try:
        import torch

        if torch.cuda.is_initialized():
            return torch.cuda.current_device()
    except Exception:  # pragma: no cover - torch is a dependency
        pass
    return 0


def num_sms(arch: str) -> tuple[int, str]:
    """(SM count, where it came from: "device" or "assumed for <arch>") for a build for ``arch``."""
    gpu = _visible_gpu(_current_ordinal())
    if gpu is not None:
        count, major, minor = gpu
        if arch.rstrip("a") == f"sm_{major}{minor}":
            return count, "device"
    if arch not in KNOWN_NUM_SMS:
        raise ValueError(f"no known SM count for {arch}")
    return KNOWN_NUM_SMS[arch], f"assumed for {arch}"


def sm_count(arch: str) -> int:
    """The SM count a CUDA build for ``arch`` plans for (a persistent grid, TILEDSL_SPLIT_K=auto): the visible GPU's
    when it is of that arch, else the usual count of the sm_90 GPUs this lowering is built for."""
    return num_sms(arch if arch in KNOWN_NUM_SMS else "sm_90a")[0]


def assumptions(target) -> dict:
    """The device properties a build for ``target`` depends on (for the kernel cache key): the SM count on
    sm_90a, nothing elsewhere."""
    arch = target_arch(target)
    if arch != "sm_90a":
        return {}
    count, _ = num_sms(arch)
    return {"num_sms": count}
