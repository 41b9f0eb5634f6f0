"""Fragment layout inference: one layout per ``local.fragment`` buffer, chosen from how the program uses it.

Rules (first match wins, a fragment that two rules claim differently is a TileProgramError):

* the output of ``T.reduce_*`` -> :class:`Replicated` (every thread needs the row statistics it broadcasts);
* the accumulator of a ``T.gemm`` lowered to ``mma.sync`` -> :class:`MMAAccumulator` (see ``gemm_mma``);
* an A/B operand of a ``T.gemm`` -> :class:`Replicated` (the FMA gemm reads whole rows/columns);
* anything else -> :class:`Striped` with the shape's default vector width.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call

from ...errors import TileProgramError
from ...ir.ops import is_tile_call
from ..tile_lowering_utils import const_ints
from .layout import Replicated, Striped, default_vec

FRAGMENT = "local.fragment"


def fragment_buffers(body) -> list:
    """The fragment buffers allocated in ``body``, in order."""
    found = []

    def on_alloc(stmt):
        if stmt.buffer.scope() == FRAGMENT:
            found.append(stmt.buffer)

    tvm_ffi.structural_walk(body, (tirx.AllocBuffer, on_alloc))
    return found


def buffer_shape(buf) -> tuple:
    """A fragment's constant shape."""
    return tuple(const_ints(list(buf.ty.shape), f"fragment {buf.name}"))


def infer_layouts(body, nthreads: int, mma_accumulators: dict) -> dict:
    """Map each fragment buffer to its layout. ``mma_accumulators`` maps gemm accumulators to their mma layout."""
    claims: dict = {}

    def claim(buf, layout, why):
        old = claims.get(buf)
        if old is not None and old[0] != layout:
            raise TileProgramError(
                f"fragment {buf.name} is used as {old[1]} (layout {old[0].describe()}) and as {why} (layout "
                f"{layout.describe()}); use a separate fragment for each role and T.copy between them")
        claims[buf] = (layout, why)

    def on_call(call):
        if not is_tile_call(call):
            return
        name = call.op.name.split(".", 1)[1]
        if name == "reduce":
            dst = call.args[1].source
            if dst.scope() == FRAGMENT:
                claim(dst, Replicated(buffer_shape(dst)), "the output of a reduction")
        elif name == "gemm":
            a, b, c = (r.source for r in call.args)
            for op in (a, b):
                if op.scope() == FRAGMENT:
                    claim(op, Replicated(buffer_shape(op)), "an operand of T.gemm")
            if c in mma_accumulators:
                claim(c, mma_accumulators[c], "a tensor-core gemm accumulator")

    tvm_ffi.structural_walk(body, (Call, on_call))
    layouts = {}
    for buf in fragment_buffers(body):
        if buf in claims:
            layouts[buf] = claims[buf][0]
        else:
            shape = buffer_shape(buf)
            layouts[buf] = Striped(shape, nthreads, default_vec(shape, nthreads))
    return layouts
