"""The one place that decides how a tile program is lowered for a target.

``lower(mod, target)`` returns a :class:`Lowered`: the module after tiledsl's passes and the name of the TVM TIR
pipeline that must finish it (``tvm.compile(..., tir_pipeline=...)``). For ``llvm`` the tile ops become plain
loops; for ``cuda`` the generic CUDA passes run (per-op ``T.gemm`` instruction selection, cp.async pipelines,
layouts); on sm_90a a program that the whole-kernel Hopper matchers recognize may instead be replaced by their
warp-specialized kernel (a shortcut, switched off by ``TILEDSL_DISABLE_HOPPER_GEMM=1`` or TileLang's
``tl.disable_tma_lower`` / ``tl.disable_warp_specialized`` pass configs). ``codegen/`` only generates code.
Each target's passes start with KeepTargetOnly: statements written for one target only (the warp-level emitter's
ldmatrix/mma.sync and their CPU emulation) keep the form of the target being built.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import tvm

from .. import config
from .check_onchip_bounds import check_onchip_bounds
from .kernel_to_loops_cpu import KernelToLoopsCPU
from .legalize_bfloat16_cpu import LegalizeBFloat16CPU
from .legalize_bool_cpu import LegalizeBoolCPU
from .legalize_float8_cpu import LegalizeFloat8CPU
from .legalize_int4_cpu import LegalizeInt4CPU
from .lower_reducers import LowerReducers, uses_reducers
from .lower_thread_allreduce_cpu import LowerThreadAllreduceCPU
from .lower_tile_ops_cpu import LowerTileOpsCPU
from .lower_warp_shuffle_cpu import LowerWarpShuffleCPU
from .lowering_options import lowering_options
from .pass_errors import take_pending_error
from .each_launch import each_launch, launch_count
from .serialize_vector_scalars import SerializeVectorScalars
from .split_grid_sync import split_grid_sync_module
from .target_only import KeepTargetOnly

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lowered:
    """A lowered module, the TVM TIR pipeline (``"default"`` or ``"tirx"``) that builds it, and what the lowering
    did (``kernel_info``: ``{"path": "generic" | "hopper_gemm" | "hopper_attention", ...}`` with the parameters a
    shortcut kernel really uses, or the matchers' reasons for refusing it, and on the generic path how each
    pipelined loop was built, ``"pipelines": ["tma", ...]``), kept in the artifact's metadata."""

    mod: tvm.IRModule
    tir_pipeline: str = "default"
    kernel_info: dict = field(default_factory=lambda: {"path": "generic"})

    @property
    def path(self) -> str:
        """Which lowering ran: "generic", or the whole-kernel shortcut "hopper_gemm" / "hopper_attention"."""
        return self.kernel_info.get("path", "generic")


def cpu_passes() -> list:
    """Passes that turn a tile program into plain loops for the LLVM target."""
    from .cuda.longest_first import LongestTilesFirst
    from .cuda.uniform_selects import SplitUniformSelects

    # the two opt-in block-order and mask passes are target-independent: the CPU runs them too (so CPU tests check
    # what they compute)
    return [KeepTargetOnly("llvm"), LongestTilesFirst, SplitUniformSelects, LowerReducers, SerializeVectorScalars,
            LowerWarpShuffleCPU, LowerTileOpsCPU,
            LowerThreadAllreduceCPU, KernelToLoopsCPU, LegalizeFloat8CPU, LegalizeBFloat16CPU, LegalizeBoolCPU,
            LegalizeInt4CPU]


def passes_for(target_kind: str) -> list:
    """Our passes for a target kind ("llvm" or "cuda")."""
    if target_kind == "llvm":
        return cpu_passes()
    if target_kind == "cuda":
        from .cuda import cuda_passes
        # a program launching several kernels is lowered kernel by kernel
        return [KeepTargetOnly("cuda"), LowerReducers, SerializeVectorScalars, each_launch(cuda_passes())]
    raise ValueError(f"no tiledsl pipeline for target kind {target_kind!r}")


def _hopper_shortcut(mod: tvm.IRModule, target: tvm.target.Target, allow: bool) -> tuple[Lowered | None, dict]:
    """(The whole-kernel Hopper replacement of a single-function module or None, what the lowering records about
    the decision: ``{"path": ...}`` with the shortcut's real parameters or the matchers' reasons for refusing)."""
    if not allow or config.hopper_specialization_disabled() or len(mod.functions) != 1:
        return None, {"path": "generic"}
    from .hopper.specialize import specialize

    gvar, func = next(iter(mod.functions.items()))
    if launch_count(func) > 1:  # the matchers recognize whole single-launch programs
        return None, {"path": "generic", "hopper_refused": "the program launches several kernels"}
    if uses_reducers(func):  # the matchers know no reducer: keep its semantics on the general passes
        return None, {"path": "generic", "hopper_refused": "the program uses T.alloc_reducer"}
    special, info = specialize(func, target)
    if special is None:
        return None, info
    entry = func.attrs["global_symbol"] if func.attrs is not None and "global_symbol" in func.attrs else gvar.name_hint
    return Lowered(tvm.IRModule({gvar: special.with_attr("global_symbol", str(entry))}), "tirx", info), info


def _run_passes(mod: tvm.IRModule, target: tvm.target.Target, switches: dict) -> tvm.IRModule:
    take_pending_error()
    try:
        with target, lowering_options(**switches):  # passes read the arch (tensor-core instruction choice)
            return tvm.ir.transform.Sequential(passes_for(target.kind.name))(mod)
    except Exception:
        pending = take_pending_error()  # TVM wraps a pass's exception; give the user the tiledsl error
        if pending is not None:
            raise pending from None
        raise


def lower(mod: tvm.IRModule, target, allow_hopper_shortcut: bool = True, allow_tma: bool = True,
          allow_warp_specialization: bool = True, uniform_scalar_branches: bool = False,
          split_wide_vectors: bool = False, allow_opt_in_schedules: bool = True,
          allow_default_schedules: bool = True) -> Lowered:
    """Lower ``mod`` for ``target`` (a ``tvm.target.Target``, or a kind name "llvm"/"cuda" for a default target).

    ``allow_hopper_shortcut=False`` keeps a program off the whole-kernel Hopper matchers (the general passes run);
    ``allow_tma=False`` keeps its pipelined copies on cp.async, ``allow_warp_specialization=False`` keeps its TMA
    pipelines without a producer warpgroup (TileLang's ``tl.disable_tma_lower`` / ``tl.disable_warp_specialized``);
    ``uniform_scalar_branches=True`` lets CUDA branches on block-uniform kernel scalars hold barriers
    (``passes/cuda/uniform_scalars.py``; the build asks for it only after ThreadSync refused the program without);
    ``split_wide_vectors=True`` splits vectorized loops wider than CUDA's vector types (``passes/cuda/wide_vectors.py``;
    asked for only after the CUDA code generator refused a vector type); ``allow_opt_in_schedules=False`` leaves
    out the opt-in schedules the environment switches on (``config.OPT_IN_SCHEDULES``; the build's last resort when
    they fail), ``allow_default_schedules=False`` those of them on by default too.
    """
    if isinstance(target, str):
        target = tvm.target.Target(target)
    check_onchip_bounds(mod)  # an on-chip element access out of its declared shape: the user's error, any target
    mod = split_grid_sync_module(mod)  # T.sync_grid(): consecutive launches, before anything counts launches
    info = {"path": "generic"}
    if target.kind.name == "cuda":
        special, info = _hopper_shortcut(mod, target, allow_hopper_shortcut)
        if special is not None:
            logger.debug("lowered with the whole-kernel Hopper shortcut (%s)", special.path)
            return special
    switches = {"tma": allow_tma, "warp_specialization": allow_warp_specialization,
                "uniform_scalar_branches": uniform_scalar_branches, "split_wide_vectors": split_wide_vectors,
                "opt_in_schedules": allow_opt_in_schedules, "default_schedules": allow_default_schedules}
    lowered = _run_passes(mod, target, switches)
    pipelines = [str(kind) for func in lowered.functions.values() if func.attrs is not None
                 and "tiledsl.pipelines" in func.attrs for kind in func.attrs["tiledsl.pipelines"]]
    if pipelines:
        info = {**info, "pipelines": pipelines}
    return Lowered(lowered, kernel_info=info)
