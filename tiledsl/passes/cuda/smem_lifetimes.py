"""Shared tiles whose lifetimes do not overlap share memory (a flash-decoding epilogue tile reuses the K/V stages).

``plan_pool(body, bufs, sizes, aligns)`` places shared buffers in one byte pool: each buffer's lifetime is the
range of top-level statements of the kernel (the body of its innermost thread launch) that mention it, and two
buffers may overlap in memory only when their lifetimes are disjoint. It returns the byte offsets, the pool size
and the top-level statements before which a barrier is needed (where a buffer first written there reuses bytes
that an earlier statement read: every thread must be done with the old tile first). ``insert_barriers`` puts
those barriers in. Top-level statements run on every thread of the block, so a barrier there is always safe.
Used by ``smem_swizzle.align_tiles`` for kernels with wgmma tiles (whose shared buffers all live in one pool, so
TVM's own shared-memory merging cannot reuse their space).
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx

from ..rewriter import flatten_seq, seq


def _innermost_launch(body):
    found = []
    tvm_ffi.structural_walk(body, (tirx.AttrStmt, lambda a: found.append(a) if a.attr_key == "thread_extent"
                                   else None))
    inner = [a for a in found if not any(b is not a and _contains(a.body, b) for b in found)]
    return inner[0] if len(inner) == 1 else None


def _contains(node, target) -> bool:
    hit = []
    tvm_ffi.structural_walk(node, (tirx.AttrStmt, lambda a: hit.append(a) if a.same_as(target) else None))
    return bool(hit)


def _mentions(stmt, bufs) -> set:
    hit = set()
    tvm_ffi.structural_walk(stmt, (tirx.Var, lambda v: hit.add(v) if v in bufs else None))
    return hit


def lifetimes(body, bufs) -> tuple[dict, int]:
    """``({buf: (first, last)}, number of top-level statements)``; a buffer not seen at the top level of one
    launch lives throughout."""
    launch = _innermost_launch(body)
    stmts = flatten_seq([launch.body]) if launch is not None else []
    spans = {}
    bufset = set(bufs)
    for pos, stmt in enumerate(stmts):
        if isinstance(stmt, tirx.AllocBuffer):
            continue
        for b in _mentions(stmt, bufset):
            first, _ = spans.get(b, (pos, pos))
            spans[b] = (first, pos)
    whole = (0, max(len(stmts) - 1, 0))
    return {b: spans.get(b, whole) for b in bufs}, len(stmts)


def plan_pool(body, bufs, sizes, aligns) -> tuple[list, int, set]:
    """(byte offset of each buffer, pool bytes, top-level statement positions needing a barrier before them)."""
    spans, _ = lifetimes(body, bufs)
    placed = []  # (start, end, first, last)
    offsets, barriers = [], set()
    for buf, size, align in zip(bufs, sizes, aligns):
        first, last = spans[buf]
        off = 0
        while True:
            off = -(-off // align) * align
            clash = [p for p in placed if not (p[3] < first or last < p[2]) and p[0] < off + size and off < p[1]]
            if not clash:
                break
            off = max(p[1] for p in clash)
        for start, end, f, l in placed:  # bytes reused from a tile that died earlier (or is born later)
            if start < off + size and off < end:
                barriers.add(max(first, f))
        placed.append((off, off + size, first, last))
        offsets.append(off)
    total = max((p[1] for p in placed), default=0)
    return offsets, total, barriers


def insert_barriers(body, positions: set):
    """``body`` with ``__syncthreads()`` before the given top-level statements of its innermost launch."""
    if not positions:
        return body
    launch = _innermost_launch(body)
    stmts = flatten_seq([launch.body])
    out = []
    for pos, stmt in enumerate(stmts):
        if pos in positions:
            out.append(tirx.Evaluate(tirx.call_intrin("int32", "tirx.tvm_storage_sync", "shared")))
        out.append(stmt)
    new_launch = tirx.AttrStmt(launch.node, launch.attr_key, launch.value, seq(out))
    return tvm_ffi.structural_map(body, (tirx.AttrStmt, lambda a: new_launch if a.same_as(launch) else a),
                                  order="pre")
