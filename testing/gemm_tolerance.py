"""Element-wise tolerances for GEMM results, derived from K and the dtypes (for tests and benchmarks).

A float32-accumulated dot product of K terms differs from the exact one by about sqrt(K) eps32 times the sum of
the terms' magnitudes (rounding errors of a K-term sum grow like sqrt(K) when they are independent), and each
rounding of the result to a narrower dtype adds up to half an ulp of that dtype. So element (i, j) may differ from
the float64 reference by ``2 sqrt(K) eps_acc (|A| @ |B|)_ij + 2 eps_out |ref_ij|``: tight enough that a result
rounded once too often (to float16 on its way to a float32 output, say) or summed over the wrong K range fails.
Hopper's float8 wgmma accumulates with about 14 bits of mantissa, not float32's 24 (DeepSeek-V3 report, section
3.3.2), so float8 inputs get eps_acc = 2^-13.
"""
from __future__ import annotations

import torch


FLOAT8_WGMMA_ACC_EPS = 2.0 ** -13


def _eps(dtype) -> float:
    if isinstance(dtype, float):
        return dtype
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    return torch.finfo(dtype).eps


def gemm_bound(a, b, transpose_B=False, acc="float32", rounding=("float32",), ref=None):
    """The element-wise bound on |C - A @ B| (float64, on A's device); ``rounding``: the dtypes the result is
    rounded to on its way out; ``ref``: the exact result when an epilogue changed it (its magnitude counts)."""
    if any("float8" in str(t.dtype) for t in (a, b)):
        acc = max(_eps(acc), FLOAT8_WGMMA_ACC_EPS)
    a, b = a.double(), b.double()
    bt = b.T if transpose_B else b
    mag = a.abs() @ bt.abs()
    size = (a @ bt if ref is None else ref.double()).abs()
    K = a.shape[1]
    return 2 * K ** 0.5 * _eps(acc) * mag + 2 * max(_eps(d) for d in rounding) * size + 1e-30


def gemm_mismatch(c, a, b, transpose_B=False, ref=None) -> str:
    """'' when every element of ``c`` (any dtype, NaN-poisoned before the run) is within :func:`gemm_bound` of the
    float64 ``A @ B`` (or of ``ref``), else a description of the worst mismatch."""
    exact = a.double() @ (b.double().T if transpose_B else b.double()) if ref is None else ref.double()
    bound = gemm_bound(a, b, transpose_B, rounding=(c.dtype,), ref=exact)
    got = c.double()
    if not torch.isfinite(got).all():
        return f"{int((~torch.isfinite(got)).sum())} of {got.numel()} elements are not finite (unwritten?)"
    excess = (got - exact).abs() - bound
    bad = excess > 0
    if bad.any():
        worst = int(torch.argmax(excess))
        return (f"{int(bad.sum())} of {got.numel()} elements exceed the bound; worst at flat index {worst}: got "
                f"{float(got.flatten()[worst]):.6g}, expected {float(exact.flatten()[worst]):.6g} +- "
                f"{float(bound.flatten()[worst]):.3g}")
    return ""
