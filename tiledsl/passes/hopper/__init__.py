"""Hopper (sm_90a) specializations: tile programs whose shape is known are lowered to warp-specialized
TMA + wgmma kernels (see ``gemm_match.py`` for what is recognized and ``gemm_kernel.py`` for what is produced;
``attention_match.py`` and ``attention_kernel.py`` for the flash-attention forward; ``device.py`` for the SM count
a build assumes)."""
from .attention_kernel import make_attention_kernel
from .attention_match import AttentionPlan, match_attention
from .gemm_kernel import make_gemm_kernel
from .gemm_match import GemmPlan, match_gemm
from .specialize import SM90_NUM_SMS, specialize_for_hopper

__all__ = ["GemmPlan", "match_gemm", "make_gemm_kernel", "AttentionPlan", "match_attention", "make_attention_kernel",
           "SM90_NUM_SMS", "specialize_for_hopper"]
