"""ScalarizeBoolVectors: no vector loads or stores of ``bool`` buffers in CUDA code.

TVM 0.27's CUDA code generator prints a vector of ``bool`` as ``ushort2`` / ``ushort4`` (2 bytes a lane) while a
``bool`` element takes 1 byte: a vectorized loop over a bool tensor (``for i in T.vectorized(2): Out[2 * t + i] =
A[2 * t + i] != B[2 * t + i]``) read and wrote twice the bytes of its elements, which is wrong values and writes past
the end of the tensor; wider bool vectors fail to build ("Cannot convert type T.boolx8 to CUDA type"). This pass
turns every vectorized loop whose body loads or stores a bool buffer into an unrolled loop (one element per
statement, the same instructions minus the vector width). Loops over other dtypes are left as they are, so
programs without bool accesses in vectorized loops produce byte-identical CUDA.

Expects: our CUDA passes done (runs last, before TVM's VectorizeLoop). Guarantees: no vectorized loop accesses a
bool buffer.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad

from ..pass_errors import keep_tiledsl_errors


def _touches_bool(stmt) -> bool:
    found = []
    tvm_ffi.structural_walk(stmt, [
        (TensorLoad, lambda load: found.append(1) if str(load.source.ty.dtype) == "bool" else None),
        (tirx.BufferStore, lambda store: found.append(1) if str(store.buffer.ty.dtype) == "bool" else None)])
    return bool(found)


def _unroll_bool_vectors(loop):
    if loop.kind != tirx.ForKind.VECTORIZED or not _touches_bool(loop.body):
        return loop
    return tirx.For(loop.loop_var, loop.min, loop.extent, tirx.ForKind.UNROLLED, loop.body, loop.thread_binding,
                    loop.annotations, loop.step)


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.ScalarizeBoolVectors")
@keep_tiledsl_errors
def ScalarizeBoolVectors(func, mod, ctx):
    """Unroll, instead of vectorizing, the loops that access bool buffers (CUDA; see the module doc)."""
    return func.with_body(tvm_ffi.structural_map(func.body, [(tirx.For, _unroll_bool_vectors)], order="post"))
