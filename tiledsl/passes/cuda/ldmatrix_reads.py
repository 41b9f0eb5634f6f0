"""LdmatrixReads: the warp-level emitter's ``ldmatrix`` pointers become ``access_ptr`` reads of their shared tiles.

Expects: PipelineCUDA has run (it may give a shared tile a stage dimension; it rewrites the emitter's
``address_of(tile[...])`` pointers with every other access). Guarantees: inside each ``tiledsl.ldmatrix_reads``
attribute (``tiledsl.ir.target_only``), every ``address_of(shared_tile[i, j, ...])`` argument of an ``ldmatrix`` call
is ``shared_tile.access_ptr("r", offset=...)`` of the same element, so TVM's ThreadSync sees the read and places
the barriers between the threads' stores into the tile and the warps' ldmatrix reads (and back); the attribute is
removed. A shared tile that is also a ``T.gemm`` operand is refused (TileProgramError): LowerTileOpsCUDA may
swizzle such a tile, which these pointers would not follow. Programs without the attribute are returned unchanged.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, TensorLoad, TensorRegion

from ...errors import TileProgramError
from ...ir.ops import is_tile_call
from ...ir.target_only import LDMATRIX_READS
from ..pass_errors import keep_tiledsl_errors


def _flat(indices, shape):
    flat = tirx.const(0, "int32")
    for idx, ext in zip(indices, shape):
        flat = flat * ext + idx
    return flat


def _as_read(arg):
    if not (isinstance(arg, Call) and arg.op.name == "tirx.address_of"):
        return arg
    load = arg.args[0]
    if not isinstance(load, TensorLoad) or not str(load.source.scope()).startswith("shared"):
        return arg
    return load.source.access_ptr("r", offset=_flat(load.indices, load.source.ty.shape))


def _on_call(call):
    if call.op.name != "tirx.ptx.ldmatrix":
        return call
    # the pointer argument is cvta_generic_to_shared(address_of(tile[...])): replace the address_of inside
    args = [tvm_ffi.structural_map(a, [(Call, _as_read)], order="post") for a in call.args]
    if all(x.same_as(y) for x, y in zip(args, call.args)):
        return call
    return Call(call.op, args, attrs=call.attrs, ret_ty="void")


def _gemm_operands(body) -> set:
    found = set()

    def on_call(call):
        if is_tile_call(call, "gemm"):
            found.update(a.source for a in call.args[:2] if isinstance(a, TensorRegion))
    tvm_ffi.structural_walk(body, (Call, on_call))
    return found


def _refuse_gemm_operands(stmt, gemm_operands: set) -> None:
    shared = []  # raised after the walk: an exception inside the walk's callback loses its type
    tvm_ffi.structural_walk(stmt, (TensorLoad, lambda load: shared.append(load.source)
                                   if load.source in gemm_operands else None))
    if shared:
        raise TileProgramError(f"{shared[0].name} is read by TensorCoreIntrinEmitter's ldmatrix and is also a "
                               f"T.gemm operand, whose shared layout tiledsl may swizzle; copy it to a tile of its "
                               f"own for the emitter")


def _on_attr(stmt):
    if stmt.attr_key != LDMATRIX_READS:
        return stmt
    return tvm_ffi.structural_map(stmt.body, [(Call, _on_call)], order="post")


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.LdmatrixReads")
@keep_tiledsl_errors
def LdmatrixReads(func, mod, ctx):
    """Turn the emitter's ldmatrix pointers into access_ptr reads (see the module doc)."""
    found = []
    tvm_ffi.structural_walk(func.body, (tirx.AttrStmt, lambda s: found.append(s) if s.attr_key == LDMATRIX_READS
                                        else None))
    if not found:
        return func
    gemm_operands = _gemm_operands(func.body)
    for stmt in found:
        _refuse_gemm_operands(stmt.body, gemm_operands)
    return func.with_body(tvm_ffi.structural_map(func.body, [(tirx.AttrStmt, _on_attr)], order="post"))
