"""The ``tiledsl.sync_grid`` Op: where ``T.sync_grid()`` puts a grid-wide barrier in a tile program.

The Op never reaches a code generator: ``passes/split_grid_sync.py`` cuts the kernel at each one into consecutive
launches of the same grid (or refuses the program), before any other pass runs.
"""
from __future__ import annotations

import tvm
import tvm.ir._ffi_api as _ir_ffi
from tvm import tirx
from tvm.ir import Call, Op

SYNC_GRID_OP_NAME = "tiledsl.sync_grid"


def _register() -> Op:
    if SYNC_GRID_OP_NAME not in Op.list_op_names():
        _ir_ffi.RegisterOp(SYNC_GRID_OP_NAME, "tiledsl grid-wide barrier (split into launches before lowering)")
        # .value: registering the IntImmEnum itself breaks every later PrimFunc construction (TVM 0.27).
        tvm.ir.register_op_attr(SYNC_GRID_OP_NAME, "TCallEffectKind", tirx.CallEffectKind.Opaque.value)
        tvm.ir.register_op_attr(SYNC_GRID_OP_NAME, "TScriptPrinterName", SYNC_GRID_OP_NAME)
    op = Op.get(SYNC_GRID_OP_NAME)
    op.set_num_inputs(0)
    return op


SYNC_GRID_OP = _register()


def sync_grid_call() -> Call:
    """The call ``tiledsl.sync_grid()`` (a statement once wrapped in ``Evaluate``)."""
    return Call(SYNC_GRID_OP, [], ret_ty="void")


def is_sync_grid(stmt) -> bool:
    """True for the statement ``Evaluate(tiledsl.sync_grid())``."""
    if not isinstance(stmt, tirx.Evaluate):
        return False
    value = stmt.value
    return isinstance(value, Call) and isinstance(value.op, Op) and value.op.same_as(SYNC_GRID_OP)
