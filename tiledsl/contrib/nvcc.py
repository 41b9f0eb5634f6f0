"""``tilelang.contrib.nvcc``: the compute capability of the current GPU, as TileLang programs query it."""
from __future__ import annotations

from ..errors import TargetError


def get_target_compute_version(target=None) -> str:
    """The current GPU's compute capability as "major.minor" ("9.0" on Hopper); TargetError without a GPU."""
    import torch

    try:
        major, minor = torch.cuda.get_device_capability()
    except (AssertionError, RuntimeError) as err:  # torch without CUDA, or no driver
        raise TargetError(f"get_target_compute_version: no CUDA GPU is visible ({err})") from None
    return f"{major}.{minor}"


def parse_compute_version(compute_version: str) -> tuple[int, int]:
    """``"9.0"`` -> ``(9, 0)``."""
    major, minor = str(compute_version).split(".")[:2]
    return int(major), int(minor)


def have_tma(target=None) -> bool:
    """True on a GPU with TMA (compute capability 9.0 or newer)."""
    try:
        return parse_compute_version(get_target_compute_version(target)) >= (9, 0)
    except TargetError:
        return False
