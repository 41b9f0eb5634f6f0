"""Tile Ops registered with TVM from Python.

A tile program keeps ``T.copy``, ``T.gemm``, ``T.fill``, ``T.reduce_*`` and ``T.atomic_add`` as calls to these Ops,
with ``TensorRegion`` arguments, until a target's lowering pass (``tiledsl.passes``) turns them into loops or
tensor-core code. No Op here may reach a code generator: each is lowered by our passes for every target.
"""
from __future__ import annotations

import tvm
import tvm.ir._ffi_api as _ir_ffi
import tvm_ffi
from tvm import tirx
from tvm.ir import Call, Op, TensorRegion

# name -> number of inputs (-1: variable)
_SPECS = {
    "copy": 2,  # (src region, dst region)
    "gemm": 3,  # (A region, B region, C region); attrs: transpose_A, transpose_B, clear_accum
    "fill": 2,  # (dst region, value)
    "reduce": 2,  # (src region, dst region); attrs: kind, dim, clear
    "atomic_add": 2,  # (dst region, src region or value)
    "use_swizzle": 2,  # (panel_size, order: 0 row / 1 col): block rasterization, kept until lowering
    "reducer": 1,  # (reducer region); attrs: op, replication: declares a T.alloc_reducer (passes/lower_reducers)
    "reducer_init": -1,  # (reducer region[, init]): T.reducer_init, rewritten by passes/lower_reducers
    "reducer_update": 2,  # (reducer element load, value): T.reducer_update, rewritten by passes/lower_reducers
    "finalize_reducer": -1,  # (reducer region[, dst region]): T.finalize_reducer, rewritten by passes/lower_reducers
}


def _register(short_name: str, n_inputs: int) -> Op:
    name = f"tiledsl.{short_name}"
    if name not in Op.list_op_names():
        _ir_ffi.RegisterOp(name, f"tiledsl tile op {short_name}")
        # .value: registering the IntImmEnum itself breaks every later PrimFunc construction (TVM 0.27).
        tvm.ir.register_op_attr(name, "TCallEffectKind", tirx.CallEffectKind.Opaque.value)
        tvm.ir.register_op_attr(name, "TScriptPrinterName", name)
    op = Op.get(name)
    op.set_num_inputs(n_inputs)
    return op


TILE_OPS: dict[str, Op] = {name: _register(name, n) for name, n in _SPECS.items()}


def tile_op(name: str) -> Op:
    """The registered Op ``tiledsl.<name>``."""
    return TILE_OPS[name]


def is_tile_call(expr, name: str | None = None) -> bool:
    """True if ``expr`` is a call to a tiledsl tile Op (``name`` restricts which)."""
    if not isinstance(expr, Call) or not isinstance(expr.op, Op):
        return False
    if name is not None:
        return expr.op.same_as(TILE_OPS[name])
    return any(expr.op.same_as(op) for op in TILE_OPS.values())


def is_tile_statement(stmt, name: str | None = None) -> bool:
    """True if ``stmt`` is a statement evaluating a tiledsl tile Op call (``name`` restricts which)."""
    return isinstance(stmt, tirx.Evaluate) and is_tile_call(stmt.value, name)


def tile_call_of(stmt, name: str | None = None):
    """The tile Op call ``stmt`` evaluates (see :func:`is_tile_statement`), else None."""
    return stmt.value if is_tile_statement(stmt, name) else None


def make_tile_call(name: str, args, **attrs) -> Call:
    """Build ``tiledsl.<name>(*args)`` with compile-time attributes (tile regions allowed as arguments)."""
    return Call(TILE_OPS[name], list(args), attrs=attrs or None, ret_ty="void")


def with_attrs(call: Call, **attrs) -> Call:
    """``call`` with the compile-time attributes ``attrs`` added (or replaced)."""
    return with_operands(call, call.args, **attrs)


def with_operands(call: Call, args, **changes) -> Call:
    """``call`` on the arguments ``args``, keeping every attribute (scheduling marks included) but ``changes``
    (a change to None drops that attribute)."""
    merged = {str(k): v for k, v in call.attrs.items()} if call.attrs is not None else {}
    merged.update(changes)
    return Call(call.op, list(args), attrs={k: v for k, v in merged.items() if v is not None} or None, ret_ty="void")


#: Which argument of a tile op is the region it writes; the ops not listed write no buffer of the program
#: (``use_swizzle``) or are rewritten before the passes that ask (the reducer ops).
OUTPUT_ARG = {"copy": 1, "fill": 0, "gemm": 2, "reduce": 1, "atomic_add": 0}


def written_buffers(stmt) -> list | None:
    """The buffers ``stmt`` writes: the targets of its stores and the output regions of its tile ops (a gemm's
    accumulator included); None when it calls a tile op whose output is not in :data:`OUTPUT_ARG`."""
    found, unknown = [], []

    def on_store(store):
        found.append(store.buffer)

    def on_call(call):
        if not is_tile_call(call):
            return
        name = call.op.name.split(".", 1)[1]
        out = call.args[OUTPUT_ARG[name]] if name in OUTPUT_ARG else None
        if isinstance(out, TensorRegion):
            found.append(out.source)
        else:
            unknown.append(call)
    tvm_ffi.structural_walk(stmt, [(tirx.BufferStore, on_store), (Call, on_call)])
    return None if unknown else found


def writers_of(node, buf, gemms: bool = True) -> list:
    """The stores to ``buf`` in ``node`` and the tile ops whose output region is ``buf`` (gemms, which accumulate
    into theirs, left out with ``gemms=False``)."""
    found = []

    def on_store(store):
        if store.buffer.same_as(buf):
            found.append(store)

    def on_call(call):
        name = call.op.name.split(".", 1)[1] if is_tile_call(call) else None
        if name in OUTPUT_ARG and (gemms or name != "gemm"):
            out = call.args[OUTPUT_ARG[name]]
            if isinstance(out, TensorRegion) and out.source.same_as(buf):
                found.append(call)
    tvm_ffi.structural_walk(node, [(tirx.BufferStore, on_store), (Call, on_call)])
    return found


def dtype_of(expr) -> str:
    """The dtype of a TVM expression as a string (TVM 0.27 expressions carry ``.ty``, not ``.dtype``)."""
    return str(expr.ty)
