"""``tilelang.utils.tensor``'s helpers: input supplies, dtype mapping and a tolerant ``assert_close``."""
from __future__ import annotations

import torch

from ..language.dtypes import as_torch
from ..profiler import TensorSupplyType
from ..profiler.supply import coerce_supply_type


def map_torch_type(dtype) -> torch.dtype:
    """The torch dtype for a dtype name or object (``"float16"``, ``T.float16``, ``"float8_e4m3"``...)."""
    name = str(dtype)
    if name in ("float8_e4m3", "e4m3_float8"):
        name = "float8_e4m3fn"
    if name in ("e5m2_float8",):
        name = "float8_e5m2"
    return as_torch(name)


def is_float8_dtype(dtype: torch.dtype) -> bool:
    """True for torch's float8 dtypes."""
    return "float8" in str(dtype)


def get_tensor_supply(supply_type=TensorSupplyType.Integer):
    """A function ``(param) -> tensor`` making inputs of the given kind on the current device (CUDA when present)."""
    from ..profiler.supply import make_tensor

    supply = coerce_supply_type(supply_type)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    def get_tensor(param):
        return make_tensor(param, supply, device)

    return get_tensor


def torch_assert_close(tensor_a, tensor_b, rtol=1e-2, atol=1e-3, max_mismatched_ratio=0.001, verbose=False,
                       equal_nan=True, check_device=True, check_dtype=True, check_layout=True, check_stride=False,
                       base_name="LHS", ref_name="RHS"):
    """Like ``torch.testing.assert_close``, but passes when at most ``max_mismatched_ratio`` of the elements lie
    outside ``atol + rtol * |b|``; raises AssertionError saying how many did."""
    a, b = tensor_a, tensor_b
    if check_dtype and a.dtype != b.dtype:
        raise AssertionError(f"dtype mismatch: {base_name} {a.dtype} vs {ref_name} {b.dtype}")
    if a.shape != b.shape:
        raise AssertionError(f"shape mismatch: {base_name} {tuple(a.shape)} vs {ref_name} {tuple(b.shape)}")
    a64, b64 = a.detach().double().cpu(), b.detach().double().cpu()
    bad = ~torch.isclose(a64, b64, rtol=rtol, atol=atol, equal_nan=equal_nan)
    n_bad, total = int(bad.sum()), a.numel()
    if total and n_bad / total > max_mismatched_ratio:
        raise AssertionError(f"{n_bad} of {total} elements ({100 * n_bad / total:.2f}%) differ beyond atol={atol}, "
                             f"rtol={rtol}; at most {100 * max_mismatched_ratio:.2f}% may "
                             f"(largest difference {float((a64 - b64).abs().nan_to_num().max()):.4g})")
    return True


__all__ = ["TensorSupplyType", "map_torch_type", "is_float8_dtype", "get_tensor_supply", "torch_assert_close"]
