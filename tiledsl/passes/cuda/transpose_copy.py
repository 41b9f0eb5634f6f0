"""The K-major copy of an 8-bit shared tile (``dst[r, c] = src[c, r]``, written by ``k_major_copies.py``) as 4 x 4
byte blocks moved through registers, without shared-memory bank conflicts.

Element by element, the copy reads one byte per load from rows 8 apart (one bank for all of a warp's threads) and
writes one byte per store: W8A8 4096^3 with B stored [K, N] took 0.88 ms against 0.12 ms with B [N, K] (H100);
this way 0.153 ms (1.05x ``torch._int_mm``, 2026-12-07). Here
each thread moves a 4 x 4 block: four 4-byte loads (four ``src`` rows, the same four columns), twelve byte permutes
(``prmt``), four 4-byte stores (four ``dst`` rows). A warp covers 32 ``dst`` rows by 16 ``dst`` columns: lane
``4 b + q`` takes the block at ``dst`` rows ``4 b ..``, columns ``4 q ..``; the warps walk the tile's 32 x 16 pieces.

Which of its four rows a thread reads (writes) first is rotated by lane so that each load (store) instruction of a
warp touches 32 different banks: with 128-byte swizzled rows a bank is fixed by the row's residue mod 8 and the
4-byte word, and a warp's 32 lanes cover only two residues with 4 consecutive rows each unless they start at
different rows. Reads start at row ``(i + 2 (q // 2)) % 4`` (64-byte source rows: ``(i + q // 2) % 4``), writes
at ``(j + b // 2) % 4`` (:func:`lane_rotations`); ``testing/test_k_major_copies.py`` counts the wavefronts with the
tiles' real layouts. The source tile gets wgmma's swizzled layout for this (``gemm_strategy.operand_layouts``; TMA
writes it so).

Applies to a ``T.Parallel`` nest marked :data:`TRANSPOSE_ATTR` over ``dst`` [R, C] with R a multiple of 32 and C of
16, both 1-byte shared tiles; otherwise the nest is lowered element by element.
"""
from __future__ import annotations

from tvm import tirx
from tvm.ir import TensorLoad
from tvm.script import tirx as T

from ...language.loops import PARALLEL_ATTR
from ..tile_lowering_utils import flat_index
from ..rewriter import uses_var
from ...language.buffers import SHARED_SCOPES

TRANSPOSE_ATTR = "tiledsl.transpose_copy"  # marks the outer loop of a K-major copy nest (k_major_copies.py)
HELPER = "tiledsl_transpose_4x4_b8"
_BLOCK = 4  # bytes per block side (one 32-bit word)
_WARP_ROWS, _WARP_COLS = 32, 16  # a warp's piece of dst: 8 x 4 blocks


def transposing_nest(dst, src):
    """``for r, c in T.Parallel(*dst.shape): dst[r, c] = src[c, r]``, marked for this lowering."""
    rows, cols = (int(e) for e in dst.ty.shape)
    r, c = tirx.Var("r", "int32"), tirx.Var("c", "int32")
    store = tirx.BufferStore(dst, tirx.BufferLoad(src, [c, r]), [r, c])
    inner = tirx.For(c, 0, cols, tirx.ForKind.PARALLEL, store, annotations={PARALLEL_ATTR: 1})
    return tirx.For(r, 0, rows, tirx.ForKind.PARALLEL, inner, annotations={PARALLEL_ATTR: 1, TRANSPOSE_ATTR: 1})


def match(loop):
    """(dst, its leading indices, src, its leading indices, R, C) for a marked nest this lowering takes (its
    accesses may have gained leading stage indices in a pipeline), else None."""
    if loop.annotations is None or TRANSPOSE_ATTR not in loop.annotations:
        return None
    inner = loop.body
    if not isinstance(inner, tirx.For) or not isinstance(inner.body, tirx.BufferStore):
        return None
    r, c, store = loop.loop_var, inner.loop_var, inner.body
    load = store.value
    if not isinstance(load, TensorLoad):
        return None
    dst, src = store.buffer, load.source
    if any(buf.scope() not in SHARED_SCOPES or
           str(buf.ty.dtype) not in ("int8", "uint8", "float8_e4m3fn", "float8_e5m2") for buf in (dst, src)):
        return None
    d_idx, s_idx = list(store.indices), list(load.indices)
    if len(d_idx) < 2 or len(s_idx) < 2 or not (d_idx[-2].same_as(r) and d_idx[-1].same_as(c) and
                                                s_idx[-2].same_as(c) and s_idx[-1].same_as(r)):
        return None
    if any(uses_var(i, v) for i in d_idx[:-2] + s_idx[:-2] for v in (r, c)):
        return None
    R, C = int(loop.extent), int(inner.extent)
    if R % _WARP_ROWS or C % _WARP_COLS:
        return None
    return dst, d_idx[:-2], src, s_idx[:-2], R, C


def lane_rotations(q, b, src_swizzle_bytes: int = 128):
    """(row a lane reads first, row it writes first) of its block, for lane ``4 b + q`` (see the module
    docstring); the source's rows 64-byte swizzled (a 64-column tile) take a different read rotation."""
    return (q // 2) * (2 if src_swizzle_bytes == 128 else 1), b // 2


def helper_source() -> str:
    """CUDA source of :data:`HELPER`: ``r[i]`` points at source row ``(i + s) % 4`` of the block, ``w[j]`` at
    destination row ``(j + s2) % 4``; destination row y, byte x = source row x, byte y."""
    return f"""__forceinline__ __device__ void {HELPER}(const void* r0, const void* r1, const void* r2, const void* r3,
    void* w0, void* w1, void* w2, void* w3, int s, int s2) {{
  unsigned v0 = *(const unsigned*)r0, v1 = *(const unsigned*)r1, v2 = *(const unsigned*)r2, v3 = *(const unsigned*)r3;
  void* w[4] = {{w0, w1, w2, w3}};
  /* byte x of a result: source row (x - s) % 4, held by v[(x - s) % 4]; of the two pair words below, v0 / v1 are
     bytes 0 / 1 of the first, v2 / v3 bytes 4 / 5 of the second */
  unsigned order = 0;
#pragma unroll
  for (int x = 0; x < 4; ++x) {{
    unsigned m = (unsigned)(x - s) & 3u;
    order |= (m < 2u ? m : m + 2u) << (4 * x);
  }}
#pragma unroll
  for (int j = 0; j < 4; ++j) {{
    unsigned y = (unsigned)(j + s2) & 3u;
    unsigned pair = y | ((y + 4u) << 4);
    *(unsigned*)w[j] = __byte_perm(__byte_perm(v0, v1, pair), __byte_perm(v2, v3, pair), order);
  }}
}}
"""


def lower(low, loop):
    """The copy for the ``low`` (LowerTileOpsCUDA) threads, or None when :func:`match` refuses ``loop``."""
    found = match(loop)
    if found is None or low.nthreads % 32:
        return None
    dst, dst_lead, src, src_lead, R, C = found
    nwarps = low.nthreads // 32
    pieces, col_pieces = (R // _WARP_ROWS) * (C // _WARP_COLS), C // _WARP_COLS
    warp, lane = tirx.floordiv(low.tid, 32), tirx.floormod(low.tid, 32)
    q, b = tirx.floormod(lane, 4), tirx.floordiv(lane, 4)
    src_layout = low.swizzled.get(src)
    s, s2 = lane_rotations(q, b, getattr(src_layout, "swizzle_bytes", 128))
    it = tirx.Var("piece_round", "int32")
    rounds = -(-pieces // nwarps)
    low.bind_loop(it, rounds)
    piece = it * nwarps + warp
    row0 = tirx.floordiv(piece, col_pieces) * _WARP_ROWS + b * _BLOCK  # the block's first dst row
    col0 = tirx.floormod(piece, col_pieces) * _WARP_COLS + q * _BLOCK  # its first dst column

    def ptr(buf, lead, row, col, mode):
        indices = list(lead) + [row, col]
        offset = low.physical_offset(buf, flat_index(indices, list(buf.ty.shape)))
        return buf.access_ptr(mode, offset=offset, extent=_BLOCK)

    reads = [ptr(src, src_lead, col0 + tirx.floormod(i + s, _BLOCK), row0, "r") for i in range(_BLOCK)]
    writes = [ptr(dst, dst_lead, row0 + tirx.floormod(j + s2, _BLOCK), col0, "w") for j in range(_BLOCK)]
    body = tirx.Evaluate(T.cuda.func_call(HELPER, *reads, *writes, s, s2, source_code=helper_source()))
    if pieces % nwarps:
        body = tirx.IfThenElse(piece < pieces, body, None)
    return tirx.For(it, 0, rounds, tirx.ForKind.UNROLLED, body)
