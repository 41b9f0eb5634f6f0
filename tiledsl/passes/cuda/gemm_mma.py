"""T.gemm on tensor cores (ldmatrix + mma.sync.m16n8k16): planning and lowering.

``plan(body, nthreads)`` decides, per gemm accumulator, whether the gemm runs on tensor cores and with which
warp grid; ``lower(low, call, plan)`` emits the code. Gemms that are not planned here use the FMA lowering.
"""
from __future__ import annotations


def plan(body, nthreads: int) -> dict:
    """Map accumulator buffer -> MMA plan for each gemm that can use mma.sync (none yet)."""
    return {}


def lower(low, call, plan):
    """Lower a planned gemm to ldmatrix + mma.sync."""
    raise NotImplementedError("mma.sync lowering")
