"""Hopper specialization: replace a recognized tiled GEMM (``gemm_match.py``) or flash-attention forward
(``attention_match.py``) by a warp-specialized TMA + wgmma kernel on sm_90a.

Expects: a PrimFunc straight from the language and a CUDA target with arch sm_90a. Guarantees: a matched function
is replaced by the generated kernel (attribute ``tiledsl.tir_pipeline = "tirx"``: it must be built with TVM's tirx
pipeline); for anything else it returns None and the generic CUDA lowering runs. Either way :func:`specialize`
also says which path was taken and with which parameters (the kernel's real block sizes, stages, split-K and the
SM count it assumes; or the matchers' reasons for refusing), which the build keeps in the artifact's metadata.
Called by ``tiledsl.codegen.compile.build`` before the generic passes.
"""
from __future__ import annotations

import logging

import tvm
from tvm import tirx

from . import attention_match, gemm_match
from .attention_kernel import make_attention_kernel
from . import device
from ...runtime.target import target_arch
from .gemm_kernel import make_gemm_kernel

logger = logging.getLogger(__name__)

SM90_NUM_SMS = device.KNOWN_NUM_SMS["sm_90a"]  # builds take theirs from device.num_sms (the visible GPU or this)


def specialize(func: tirx.PrimFunc, target: tvm.target.Target) -> tuple[tirx.PrimFunc | None, dict]:
    """(The Hopper kernel for ``func`` on ``target`` or None, what the build did: ``{"path": ...}`` and the
    parameters the kernel really uses)."""
    if target_arch(target) != "sm_90a":
        return None, {"path": "generic"}
    sms, sms_from = device.num_sms("sm_90a")
    plan = gemm_match.match_gemm(func, sms)
    if plan is not None:
        logger.info("Hopper GEMM specialization of %s: block %dx%dx%d (program block_K %d), %d stages (program "
                    "%d), split-K %d, %d SMs (%s)", plan.name, plan.block_M, plan.block_N, plan.block_K,
                    plan.program_block_K, plan.stages, plan.program_stages, plan.split_k, sms, sms_from)
        info = {"path": "hopper_gemm", "block_M": plan.block_M, "block_N": plan.block_N, "block_K": plan.block_K,
                "num_stages": plan.stages, "threads": 128 * (plan.consumers + 1), "split_k": plan.split_k,
                "program_block_K": plan.program_block_K, "program_num_stages": plan.program_stages,
                "num_sms": sms, "num_sms_from": sms_from}
        return make_gemm_kernel(plan), info
    gemm_reason = gemm_match.last_reason
    logger.debug("no Hopper GEMM specialization: %s", gemm_reason)
    attn = attention_match.match_attention(func, sms)
    if attn is not None:
        variant = func.attrs.get(attention_match.VARIANT_ATTR) if func.attrs is not None else None
        variant = str(variant) if variant is not None else None
        logger.info("Hopper flash-attention specialization of %s: %s (variant %s), %d SMs (%s)", attn.name, attn,
                    variant or "default", sms, sms_from)
        info = {"path": "hopper_attention", "variant": variant or "default", "block_M": attn.block_M,
                "block_N": attn.block_N, "causal": attn.causal, "num_sms": sms, "num_sms_from": sms_from}
        return make_attention_kernel(attn, variant), info
    logger.debug("no Hopper flash-attention specialization: %s", attention_match.last_reason)
    return None, {"path": "generic", "hopper_gemm_refused": gemm_reason,
                  "hopper_attention_refused": attention_match.last_reason}


def specialize_for_hopper(func: tirx.PrimFunc, target: tvm.target.Target) -> tirx.PrimFunc | None:
    """The Hopper kernel for ``func`` on ``target``, or None when it does not apply."""
    return specialize(func, target)[0]
