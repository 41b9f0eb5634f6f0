"""LdmatrixReads: the warp-level emitter's ``ldmatrix`` pointers become ``access_ptr`` reads of their shared tiles.

Expects: PipelineCUDA has run (it may give a shared tile a stage dimension; it rewrites the emitter's
``address_of(tile[...])`` pointers with every other access). Guarantees: inside each ``tiledsl.ldmatrix_reads``
attribute (``tiledsl.ir.target_only``), every ``address_of(shared_tile[i, j, ...])`` argument of an ``ldmatrix`` call
is ``shared_tile.access_ptr("r", offset=...)`` of the same element, so TVM's ThreadSync sees the read and places
the barriers between the threads' stores into the tile and the warps' ldmatrix reads (and back); the attribute is
removed. Programs without the attribute are returned unchanged.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, TensorLoad

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
    return func.with_body(tvm_ffi.structural_map(func.body, [(tirx.AttrStmt, _on_attr)], order="post"))
