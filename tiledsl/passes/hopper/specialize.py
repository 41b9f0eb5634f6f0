"""Hopper specialization: replace a recognized tiled GEMM (``gemm_match.py``) or flash-attention forward
(``attention_match.py``) by a warp-specialized TMA + wgmma kernel on sm_90a.

Expects: a PrimFunc straight from the language and a CUDA target with arch sm_90a. Guarantees: a matched function
is replaced by the generated kernel (attribute ``tiledsl.tir_pipeline = "tirx"``: it must be built with TVM's tirx
pipeline); for anything else it returns None and the generic CUDA lowering runs. Called by
``tiledsl.codegen.compile.build`` before the generic passes.
"""
from __future__ import annotations

import logging

import tvm
from tvm import tirx

from . import attention_match, gemm_match
from .attention_kernel import make_attention_kernel
from .gemm_kernel import make_gemm_kernel

logger = logging.getLogger(__name__)


# Persistent kernels launch one block per SM. The count is fixed per arch, not read from the GPU: reading it would
# open a CUDA context in every compile worker, and the binary must depend only on what its cache key holds.
# 132 is the H100 SXM and the H200; on an H100 PCIe (114 SMs) the extra blocks simply run in a second wave.
SM90_NUM_SMS = 132


def specialize_for_hopper(func: tirx.PrimFunc, target: tvm.target.Target) -> tirx.PrimFunc | None:
    """The Hopper kernel for ``func`` on ``target``, or None when it does not apply."""
    if target.kind.name != "cuda" or str(target.attrs.get("arch", "")) != "sm_90a":
        return None
    plan = gemm_match.match_gemm(func, SM90_NUM_SMS)
    if plan is not None:
        logger.debug("Hopper GEMM specialization: %s", plan)
        return make_gemm_kernel(plan)
    logger.debug("no Hopper GEMM specialization: %s", gemm_match.last_reason)
    attn = attention_match.match_attention(func, SM90_NUM_SMS)
    if attn is not None:
        variant = func.attrs.get(attention_match.VARIANT_ATTR) if func.attrs is not None else None
        logger.debug("Hopper flash-attention specialization: %s (variant %s)", attn, variant or "default")
        return make_attention_kernel(attn, str(variant) if variant is not None else None)
    logger.debug("no Hopper flash-attention specialization: %s", attention_match.last_reason)
    return None
