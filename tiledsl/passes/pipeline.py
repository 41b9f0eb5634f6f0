"""The ordered pass list per target, run before TVM's own pipeline (``tvm.compile``) takes over."""
from __future__ import annotations

import tvm

from .kernel_to_loops_cpu import KernelToLoopsCPU
from .legalize_bfloat16_cpu import LegalizeBFloat16CPU
from .legalize_float8_cpu import LegalizeFloat8CPU
from .lower_tile_ops_cpu import LowerTileOpsCPU
from .pass_errors import take_pending_error


def cpu_passes() -> list:
    """Passes that turn a tile program into plain loops for the LLVM target."""
    return [LowerTileOpsCPU, KernelToLoopsCPU, LegalizeFloat8CPU, LegalizeBFloat16CPU]


def passes_for(target_kind: str) -> list:
    """Our passes for a target kind ("llvm" or "cuda")."""
    if target_kind == "llvm":
        return cpu_passes()
    if target_kind == "cuda":
        from .cuda import cuda_passes
        return cuda_passes()
    raise ValueError(f"no tiledsl pipeline for target kind {target_kind!r}")


def lower(mod: tvm.IRModule, target_kind: str) -> tvm.IRModule:
    """Run tiledsl's passes for ``target_kind`` over ``mod``."""
    take_pending_error()
    try:
        return tvm.ir.transform.Sequential(passes_for(target_kind))(mod)
    except Exception:
        pending = take_pending_error()  # TVM wraps a pass's exception; give the user the tiledsl error
        if pending is not None:
            raise pending from None
        raise
