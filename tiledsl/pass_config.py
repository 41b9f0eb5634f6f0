"""``tiledsl.PassConfigKey``: TileLang's pass-configuration keys, so ``pass_configs={PassConfigKey.X: ...}`` ports.

``pass_configs`` go to TVM's PassContext, which rejects keys it does not know. TileLang's own keys (``tl.*``) are
taken out first: the two that switch off TMA / warp specialization also switch off tiledsl's Hopper
specialization (the program then takes the generic cp.async + mma.sync lowering); the others name TileLang switches
that tiledsl's lowering does not have and are accepted with no effect (logged at debug level). A ``tl.*`` key that
is not among them is a ConfigError naming it.
"""
from __future__ import annotations

import enum
import logging

from .errors import ConfigError

logger = logging.getLogger(__name__)


class PassConfigKey(str, enum.Enum):
    """TileLang's pass-configuration keys."""

    TL_DISABLE_TMA_LOWER = "tl.disable_tma_lower"
    TL_DISABLE_WARP_SPECIALIZED = "tl.disable_warp_specialized"
    TL_ENABLE_FAST_MATH = "tl.enable_fast_math"
    TL_DISABLE_FAST_MATH = "tl.disable_fast_math"
    TL_DISABLE_SAFE_MEMORY_ACCESS = "tl.disable_safe_memory_legalize"
    TL_CONFIG_INDEX_BITWIDTH = "tl.config_index_bitwidth"
    TL_ENABLE_AGGRESSIVE_SHARED_MEMORY_MERGE = "tl.enable_aggressive_shared_memory_merge"
    TL_DISABLE_THREAD_STORAGE_SYNC = "tl.disable_thread_storage_sync"
    TL_DISABLE_DYNAMIC_TAIL_SPLIT = "tl.disable_dynamic_tail_split"
    TL_DYNAMIC_ALIGNMENT = "tl.dynamic_alignment"
    TL_ENABLE_PTXAS_VERBOSE_OUTPUT = "tl.enable_ptxas_verbose_output"
    TL_REDUCER_FORCE_BASELINE = "tl.reducer_force_baseline"  # reducers: tiledsl has one plan (passes/lower_reducers)
    TL_ENABLE_REDUCER_PLAN_VERBOSE = "tl.enable_reducer_plan_verbose"

    def __str__(self) -> str:
        return self.value


_NO_HOPPER = {PassConfigKey.TL_DISABLE_TMA_LOWER.value, PassConfigKey.TL_DISABLE_WARP_SPECIALIZED.value}
_KNOWN = {key.value for key in PassConfigKey}


def normalize(pass_configs) -> dict:
    """``pass_configs`` with plain string keys (PassConfigKey members become their ``tl.*`` names)."""
    return {(k.value if isinstance(k, PassConfigKey) else str(k)): v for k, v in dict(pass_configs or {}).items()}


def split(pass_configs) -> tuple[dict, dict]:
    """(TileLang ``tl.*`` options, the rest for TVM's PassContext)."""
    configs = normalize(pass_configs)
    tl = {k: v for k, v in configs.items() if k.startswith("tl.")}
    unknown = sorted(set(tl) - _KNOWN)
    if unknown:
        raise ConfigError(f"pass_configs: unknown TileLang key(s) {unknown}; tiledsl accepts "
                          f"{sorted(_KNOWN)} (tiledsl.PassConfigKey)")
    ignored = sorted(k for k in tl if k not in _NO_HOPPER)
    if ignored:
        logger.debug("pass_configs %s have no effect in tiledsl", ignored)
    return tl, {k: v for k, v in configs.items() if not k.startswith("tl.")}


def hopper_allowed(tl_options: dict) -> bool:
    """False when the program asked for no TMA or no warp specialization."""
    return not any(bool(tl_options.get(k)) for k in _NO_HOPPER)


def lowering_switches(tl_options: dict) -> dict:
    """The keyword switches of ``passes.pipeline.lower`` the TileLang options ask for."""
    return {"allow_hopper_shortcut": hopper_allowed(tl_options),
            "allow_tma": not tl_options.get(PassConfigKey.TL_DISABLE_TMA_LOWER.value),
            "allow_warp_specialization": not tl_options.get(PassConfigKey.TL_DISABLE_WARP_SPECIALIZED.value)}
