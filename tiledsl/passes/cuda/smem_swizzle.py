"""XOR swizzle of shared tiles read by ldmatrix, so that its eight 16-byte rows fall in distinct banks.

A tile with rows of ``L`` elements (2-byte dtype) is seen as rows of 16-byte chunks; chunk ``j`` of row ``r`` is
stored at chunk ``j ^ f(r)`` of the same row, with ``f(r) = r % 8`` when a row holds at least 8 chunks (inside each
group of 8) and ``f(r) = (r // (8 / cpr)) % cpr`` when it holds ``cpr`` < 8 chunks. Rows are counted over the
flattened buffer (a leading stage dimension just continues the row count; tiles have a multiple of 8 rows). The
mapping permutes whole 16-byte chunks, so aligned 16-byte cp.async, vector stores and ldmatrix rows stay whole.

Applied by LowerTileOpsCUDA: pointer offsets it creates go through :func:`physical_offset`; every remaining
element access of a swizzled buffer is rewritten by :func:`swizzle_accesses`.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad

from ..tile_lowering_utils import const_ints, flat_index, unravel


def swizzle_ok(buf) -> bool:
    """True for a 2-byte shared buffer whose rows are whole 16-byte chunks and whose tiles have 8k rows."""
    if str(buf.ty.dtype) not in ("float16", "bfloat16") or buf.scope() not in ("shared", "shared.dyn"):
        return False
    try:
        shape = const_ints(list(buf.ty.shape), "swizzle")
    except Exception:  # noqa: BLE001 - symbolic shapes are simply not swizzled
        return False
    if len(shape) < 2:
        return False
    L, R = shape[-1], shape[-2]
    cpr = L // 8
    return L % 8 == 0 and (cpr in (2, 4) or cpr % 8 == 0) and R % 8 == 0


def physical_offset(buf, flat, analyzer=None):
    """Where logical flat element ``flat`` of a swizzled buffer is stored."""
    L = int(buf.ty.shape[-1])
    cpr = L // 8
    row, col = tirx.floordiv(flat, L), tirx.floormod(flat, L)
    chunk, elem = tirx.floordiv(col, 8), tirx.floormod(col, 8)
    if cpr >= 8:
        key = tirx.floormod(row, 8)
        phys = tirx.floordiv(chunk, 8) * 8 + tirx.bitwise_xor(tirx.floormod(chunk, 8), key)
    else:
        key = tirx.floormod(tirx.floordiv(row, 8 // cpr), cpr)
        phys = tirx.bitwise_xor(chunk, key)
    out = row * L + phys * 8 + elem
    return analyzer.simplify(out) if analyzer is not None else out


def swizzle_accesses(body, bufs, analyzer):
    """Rewrite every element load/store of ``bufs`` to its swizzled position."""
    if not bufs:
        return body

    def remap(buf, indices):
        shape = [int(s) for s in buf.ty.shape]
        flat = physical_offset(buf, flat_index(list(indices), shape), analyzer)
        return [analyzer.simplify(i) for i in unravel(flat, shape)]

    def on_load(load):
        if load.source in bufs:
            return tirx.BufferLoad(load.source, remap(load.source, load.indices))
        return load

    def on_store(store):
        if store.buffer in bufs:
            return tirx.BufferStore(store.buffer, store.value, remap(store.buffer, store.indices))
        return store

    return tvm_ffi.structural_map(body, [(TensorLoad, on_load), (tirx.BufferStore, on_store)], order="post")
