"""SpecializeHopperGemm: replace a recognized tiled GEMM (or flash-attention forward, ``attention_match.py``) by the
warp-specialized TMA + wgmma kernel on sm_90a.

Expects: a PrimFunc straight from the language and a CUDA target with arch sm_90a. Guarantees: a matched
function is replaced by :func:`make_gemm_kernel`'s output (attribute ``tiledsl.tir_pipeline = "tirx"``: it must be
built with TVM's tirx pipeline); any other function is returned unchanged. Runs first in the CUDA pipeline.
"""
from __future__ import annotations

import logging

import tvm
from tvm import tirx

from . import attention_match, gemm_match
from .attention_kernel import make_attention_kernel
from .gemm_kernel import make_gemm_kernel

logger = logging.getLogger(__name__)


def _num_sms() -> int:
    try:
        import torch
        if torch.cuda.is_available():
            return torch.cuda.get_device_properties(torch.cuda.current_device()).multi_processor_count
    except ImportError:  # pragma: no cover
        pass
    return 132  # H100 SXM / H200


def specialize_for_hopper(func: tirx.PrimFunc, target: tvm.target.Target) -> tirx.PrimFunc | None:
    """The Hopper kernel for ``func`` on ``target``, or None when it does not apply."""
    if target.kind.name != "cuda" or str(target.attrs.get("arch", "")) != "sm_90a":
        return None
    plan = gemm_match.match_gemm(func, _num_sms())
    if plan is not None:
        logger.debug("Hopper GEMM specialization: %s", plan)
        return make_gemm_kernel(plan)
    logger.debug("no Hopper GEMM specialization: %s", gemm_match.last_reason)
    attn = attention_match.match_attention(func, _num_sms())
    if attn is not None:
        variant = func.attrs.get(attention_match.VARIANT_ATTR) if func.attrs is not None else None
        logger.debug("Hopper flash-attention specialization: %s (variant %s)", attn, variant or "default")
        return make_attention_kernel(attn, str(variant) if variant is not None else None)
    logger.debug("no Hopper flash-attention specialization: %s", attention_match.last_reason)
    return None


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.SpecializeHopperGemm")
def SpecializeHopperGemm(func, mod, ctx):
    """Swap recognized tiled GEMMs for the Hopper TMA + wgmma kernel (sm_90a only)."""
    target = tvm.target.Target.current(allow_none=True)
    if target is None:
        return func
    special = specialize_for_hopper(func, target)
    return func if special is None else special
