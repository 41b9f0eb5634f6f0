"""``tiledsl.PassConfigKey``: TileLang's pass-configuration keys, so ``pass_configs={PassConfigKey.X: ...}`` ports.

``pass_configs`` go to TVM's PassContext, which rejects keys it does not know. TileLang's own keys (``tl.*``) are
taken out first: the three that switch off TMA / warp specialization / wgmma also switch off tiledsl's Hopper
specialization (the program then takes the generic cp.async + mma.sync lowering); ``tl.enable_fast_math`` (unless
``tl.disable_fast_math``) and ``tl.device_compile_flags`` add nvcc flags, as in TileLang (:func:`nvcc_flags`); the
others name TileLang switches that tiledsl's lowering does not have and are accepted with no effect (logged at
debug level). A ``tl.*`` key that is not among them is a ConfigError naming it.
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
    # the rest of TileLang's keys: accepted, no effect in tiledsl (the tir*.* ones go to TVM where it knows them;
    # the TL_SIMPLIFY_* names are options inside TL_SIMPLIFY's value, as in TileLang)
    TL_SIMPLIFY = "tl.Simplify"
    TL_SIMPLIFY_TRANSITIVELY_PROVE_INEQUALITIES = "transitively_prove_inequalities"
    TL_SIMPLIFY_CONVERT_BOOLEAN_TO_AND_OF_ORS = "convert_boolean_to_and_of_ors"
    TL_SIMPLIFY_APPLY_CONSTRAINTS_TO_BOOLEAN_BRANCHES = "apply_constraints_to_boolean_branches"
    TL_SIMPLIFY_PROPAGATE_KNOWNS_TO_PROVE_CONDITIONAL = "propagate_knowns_to_prove_conditional"
    TL_SIMPLIFY_PROPAGATE_KNOWNS_TO_SIMPLIFY_EXPRESSIONS = "propagate_knowns_to_simplify_expressions"
    TL_SIMPLIFY_ENABLE_LET_INLINE = "enable_simplify_let_inline"
    TL_DISABLE_BUFFER_INIT_CHECK = "tl.disable_buffer_init_check"
    TL_DISABLE_DATA_RACE_CHECK = "tl.disable_data_race_check"
    TL_DISABLE_PRELOWER_SEMANTIC_CHECK = "tl.disable_prelower_semantic_check"
    TL_PTXAS_REGISTER_USAGE_LEVEL = "tl.ptxas_register_usage_level"
    TL_DEVICE_COMPILE_FLAGS = "tl.device_compile_flags"
    TL_EMIT_LINE_DIRECTIVES = "tl.emit_line_directives"
    TL_LAYOUT_COST_MODEL = "tl.layout_cost_model"
    TL_ENABLE_ASYNC_COPY = "tl.enable_async_copy"
    TL_ENABLE_LOWER_LDGSTG = "tl.enable_lower_ldgstg"
    TL_ENABLE_LOWER_LDGSTG_PREDICATED = "tl.enable_lower_ldgstg_predicated"
    TL_ENABLE_VECTORIZE_PLANNER_VERBOSE = "tl.enable_vectorize_planner_verbose"
    TL_DISABLE_WGMMA = "tl.disable_wgmma"
    TL_DEBUG_MERGE_SHARED_MEMORY_ALLOCATIONS = "tl.debug_merge_shared_memory_allocations"
    TL_DISABLE_SHARED_MEMORY_REUSE = "tl.disable_shared_memory_reuse"
    TL_DISABLE_SHUFFLE_ELECT = "tl.disable_shuffle_elect"
    TL_DISABLE_LOOP_UNSWITCHING = "tl.disable_loop_unswitching"
    TL_LOOP_UNSWITCHING_ALLOW_NON_TRIVIAL_ELSE = "tl.loop_unswitching_allow_non_trivial_else"
    TL_IF_STMT_BINDING_INLINE_REPLAYABLE_BINDS = "tl.if_stmt_binding_inline_replayable_binds"
    TL_FORCE_LET_INLINE = "tl.force_let_inline"
    TL_AST_PRINT_ENABLE = "tl.ast_print_enable"
    TL_LAYOUT_VISUALIZATION_ENABLE = "tl.layout_visualization_enable"
    TL_LAYOUT_VISUALIZATION_FORMATS = "tl.layout_visualization_formats"
    TL_STORAGE_REWRITE_DETECT_INPLACE = "tl.storage_rewrite_detect_inplace"
    TIR_ENABLE_EQUIV_TERMS_IN_CSE = "tir.enable_equiv_terms_in_cse_tir"
    TIR_DISABLE_CSE = "tirx.disable_cse_tir"
    TIR_SIMPLIFY = "tirx.Simplify"
    TIR_DISABLE_STORAGE_REWRITE = "tirx.disable_storage_rewrite"
    TIR_DISABLE_VECTORIZE = "tirx.disable_vectorize"
    TIR_USE_ASYNC_COPY = "tirx.use_async_copy"
    TIR_ENABLE_DEBUG = "tirx.enable_debug"
    TIR_MERGE_STATIC_SMEM = "tirx.merge_static_smem"
    TIR_ADD_LOWER_PASS = "tirx.add_lower_pass"
    TIR_NOALIAS = "tirx.noalias"
    TL_DISABLE_OUT_OF_BOUND_WARNING = "tl.disable_out_of_bound_warning"
    TL_ENABLE_DUMP_IR = "tl.enable_dump_ir"
    TL_DUMP_IR_DIR = "tl.dump_ir_path"
    TL_PASS_PROFILE = "tl.pass_profile"
    TL_PASS_PROFILE_THRESHOLD_MS = "tl.pass_profile_threshold_ms"

    def __str__(self) -> str:
        return self.value


_NO_HOPPER = {PassConfigKey.TL_DISABLE_TMA_LOWER.value, PassConfigKey.TL_DISABLE_WARP_SPECIALIZED.value,
              PassConfigKey.TL_DISABLE_WGMMA.value}
_NVCC = {PassConfigKey.TL_ENABLE_FAST_MATH.value, PassConfigKey.TL_DISABLE_FAST_MATH.value,
         PassConfigKey.TL_DEVICE_COMPILE_FLAGS.value}
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
    ignored = sorted(k for k in tl if k not in _NO_HOPPER and k not in _NVCC)
    if ignored:
        logger.debug("pass_configs %s have no effect in tiledsl", ignored)
    rest = {k: v for k, v in configs.items() if not k.startswith("tl.")}
    unknown_to_tvm = sorted(k for k in rest if k in _KNOWN and k not in _tvm_configs())
    if unknown_to_tvm:  # TileLang's TVM has options ours does not (tir.enable_equiv_terms_in_cse_tir)
        logger.debug("pass_configs %s are TileLang's TVM options that TVM 0.27 does not have: no effect",
                     unknown_to_tvm)
    return tl, {k: v for k, v in rest.items() if k not in unknown_to_tvm}


def _tvm_configs() -> set:
    import tvm
    return set(tvm.ir.transform.PassContext.list_configs())


def hopper_allowed(tl_options: dict) -> bool:
    """False when the program asked for no TMA or no warp specialization."""
    return not any(bool(tl_options.get(k)) for k in _NO_HOPPER)


def lowering_switches(tl_options: dict) -> dict:
    """The keyword switches of ``passes.pipeline.lower`` the TileLang options ask for."""
    return {"allow_hopper_shortcut": hopper_allowed(tl_options),
            "allow_tma": not tl_options.get(PassConfigKey.TL_DISABLE_TMA_LOWER.value),
            "allow_warp_specialization": not tl_options.get(PassConfigKey.TL_DISABLE_WARP_SPECIALIZED.value)}


def nvcc_flags(tl_options: dict) -> list:
    """The nvcc flags TileLang's options ask for: ``--use_fast_math`` for ``tl.enable_fast_math`` (unless
    ``tl.disable_fast_math`` is also set), then ``tl.device_compile_flags`` (a string or a list of strings)."""
    flags = []
    if bool(tl_options.get(PassConfigKey.TL_ENABLE_FAST_MATH.value, False)) and \
            not bool(tl_options.get(PassConfigKey.TL_DISABLE_FAST_MATH.value, False)):
        flags.append("--use_fast_math")
    extra = tl_options.get(PassConfigKey.TL_DEVICE_COMPILE_FLAGS.value)
    if extra:
        if isinstance(extra, str):
            extra = extra.split()
        if not all(isinstance(f, str) for f in extra):
            raise ConfigError(f"pass_configs: tl.device_compile_flags must be a string or a list of strings, got "
                              f"{extra!r}")
        flags.extend(extra)
    return flags
