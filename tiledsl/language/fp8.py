"""``tilelang.language.fp8``: which float8 dtypes a platform uses (tiledsl targets NVIDIA GPUs and the CPU)."""
from __future__ import annotations

from .dtypes import as_torch, dtype


def determine_fp8_type(fp8_format: str = "e4m3") -> dtype:
    """``T.float8_e4m3fn`` for "e4m3", ``T.float8_e5m2`` for "e5m2" (the OCP formats NVIDIA GPUs use)."""
    if fp8_format not in ("e4m3", "e5m2"):
        raise ValueError(f"unsupported FP8 format {fp8_format!r}: use 'e4m3' or 'e5m2'")
    return dtype("float8_e4m3fn" if fp8_format == "e4m3" else "float8_e5m2")


def determine_torch_fp8_type(fp8_format: str = "e4m3"):
    """The torch dtype of :func:`determine_fp8_type`."""
    return as_torch(determine_fp8_type(fp8_format))
