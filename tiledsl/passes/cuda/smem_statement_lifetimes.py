"""Statement-level lifetimes for the shared scratch of tile ops, for kernels whose shared tiles do not fit otherwise.

``smem_lifetimes.plan_pool`` gives every buffer a lifetime in top-level statements of the kernel, so the scratch
tiles of two reductions in one loop (``row_scratch`` of T.reduce_max and of T.reduce_sum in an MLA decode loop) are
alive at the same time and take separate bytes. A *transient* buffer - the shared scratch a tile op's lowering
allocates for itself: written and then read inside that op's own statements, holding no value from one op to the
next or from one loop iteration to the next - lives only over the children of the innermost statement sequence that
mention it. :func:`plan_statement_pool` places buffers first-fit as ``plan_pool`` does, with these finer lifetimes
(other buffers keep their top-level ones), so transients whose ranges are disjoint share bytes with each other and
with tiles dead over their range.

Where bytes change hands a barrier goes before the new user, in the innermost sequence holding both users, and -
when that sequence is inside a loop - also before the old user (the next iteration hands the bytes back); a barrier
is left out where a ``__syncthreads()`` already sits between the two in that sequence. Barriers are only put
between children of sequences that every thread of the block executes: a transient whose range is inside a branch
on a thread index, or a loop whose bounds depend on one, keeps its top-level lifetime. Used by
``smem_swizzle.align_tiles`` after ``plan_pool``, only when ``plan_pool``'s pool does not fit.
"""
from __future__ import annotations

from dataclasses import dataclass

import tvm_ffi
from tvm import tirx

from ..rewriter import uses_var
from .async_copy import barrier, is_barrier
from .smem_lifetimes import _innermost_launch


@dataclass
class _Seq:
    """One statement sequence of the launch body (a body that is not a SeqStmt counts as a sequence of one)."""
    children: list
    ranges: list  # per child: (first leaf, last leaf), positions in program order
    in_loop: bool
    uniform: bool  # every thread of the block executes it (no enclosing branch or loop bound on a thread index)


@dataclass(frozen=True)
class _Site:
    """Where a buffer lives: ``chain`` holds (sequence id, first child, last child) from the launch body down."""
    chain: tuple
    start: int
    end: int


def _as_children(stmt) -> list:
    return list(stmt.seq) if isinstance(stmt, tirx.SeqStmt) else [stmt]


class _Linearized:
    """The launch body as nested sequences with leaves numbered in program order, and where each buffer is
    mentioned (the chain of (sequence, child) pairs above each mention)."""

    def __init__(self, body, bufs, thread_vars):
        self.bufs = set(bufs)
        self.thread_vars = thread_vars
        self.seqs: list[_Seq] = []
        self.mentions: dict = {b: [] for b in bufs}
        self.leaf = 0
        self._sequence(_as_children(body), (), False, True)

    def _sequence(self, children, chain, in_loop, uniform) -> int:
        sid = len(self.seqs)
        entry = _Seq(children, [], in_loop, uniform)
        self.seqs.append(entry)
        for pos, child in enumerate(children):
            start = self.leaf
            self._statement(child, chain + ((sid, pos),), in_loop, uniform)
            entry.ranges.append((start, max(self.leaf - 1, start)))
        return sid

    def _thread_dependent(self, exprs) -> bool:
        return any(uses_var(e, v) for e in exprs for v in self.thread_vars)

    def _record(self, nodes, chain) -> None:
        hit = set()
        for node in nodes:
            tvm_ffi.structural_walk(node, (tirx.Var, lambda v: hit.add(v) if v in self.bufs else None))
        for buf in hit:
            self.mentions[buf].append((chain, self.leaf))
        self.leaf += 1

    def _statement(self, stmt, chain, in_loop, uniform) -> None:
        if isinstance(stmt, tirx.SeqStmt):
            self._sequence(list(stmt.seq), chain, in_loop, uniform)
        elif isinstance(stmt, tirx.For):
            self._record([stmt.min, stmt.extent], chain)
            self._sequence(_as_children(stmt.body), chain, True,
                           uniform and not self._thread_dependent([stmt.min, stmt.extent]))
        elif isinstance(stmt, tirx.While):
            self._record([stmt.condition], chain)
            self._sequence(_as_children(stmt.body), chain, True,
                           uniform and not self._thread_dependent([stmt.condition]))
        elif isinstance(stmt, tirx.IfThenElse):
            self._record([stmt.condition], chain)
            inner = uniform and not self._thread_dependent([stmt.condition])
            self._sequence(_as_children(stmt.then_case), chain, in_loop, inner)
            if stmt.else_case is not None:
                self._sequence(_as_children(stmt.else_case), chain, in_loop, inner)
        elif isinstance(stmt, tirx.AttrStmt):
            self._record([stmt.value], chain)
            self._sequence(_as_children(stmt.body), chain, in_loop, uniform)
        elif isinstance(stmt, tirx.AllocBuffer):
            self.leaf += 1  # an allocation is not a use
        else:
            self._record([stmt], chain)

    # ------------------------------------------------------------------ lifetimes
    def top_level_site(self, buf) -> _Site:
        """The buffer's lifetime in top-level statements (the whole body when it is never mentioned)."""
        top = self.seqs[0]
        pos = [chain[0][1] for chain, _ in self.mentions[buf]] or [0, len(top.children) - 1]
        first, last = min(pos), max(pos)
        return _Site(((0, first, last),), top.ranges[first][0], top.ranges[last][1])

    def transient_site(self, buf) -> _Site:
        """The children of the innermost (block-uniform) sequence mentioning ``buf`` that hold all its uses."""
        chains = [chain for chain, _ in self.mentions[buf]]
        if not chains:
            return self.top_level_site(buf)
        depth = 0
        while True:
            nxt = depth + 1
            if any(len(c) <= nxt for c in chains) or len({c[nxt][0] for c in chains}) != 1 \
                    or len({c[depth] for c in chains}) != 1 or not self.seqs[chains[0][nxt][0]].uniform:
                break
            depth = nxt
        prefix = tuple((sid, pos, pos) for sid, pos in chains[0][:depth])
        sid = chains[0][depth][0]
        first, last = min(c[depth][1] for c in chains), max(c[depth][1] for c in chains)
        seq_ = self.seqs[sid]
        return _Site(prefix + ((sid, first, last),), seq_.ranges[first][0], seq_.ranges[last][1])

    # ------------------------------------------------------------------ barriers
    def _barrier_between(self, sid, lo, hi) -> bool:
        """True when child positions lo < p < hi of sequence ``sid`` hold a block barrier."""
        return any(is_barrier(s) for s in self.seqs[sid].children[lo + 1:hi])

    def barriers_for(self, early: _Site, late: _Site) -> set:
        """(sequence, child) positions needing a barrier before them when ``late`` reuses bytes ``early`` used
        (``early`` ends before ``late`` starts in program order)."""
        depth = 0
        while depth + 1 < min(len(early.chain), len(late.chain)) and early.chain[depth + 1][0] == \
                late.chain[depth + 1][0] and early.chain[depth][1:] == late.chain[depth][1:]:
            depth += 1
        sid, e_lo, e_hi = early.chain[depth]
        _, l_lo, l_hi = late.chain[depth]
        if e_hi >= l_lo:  # two branches of one statement: before each user
            return {early.chain[-1][:2], late.chain[-1][:2]}
        out = set()
        if not self._barrier_between(sid, e_hi, l_lo):
            out.add((sid, l_lo))
        seq_ = self.seqs[sid]
        if seq_.in_loop and not (self._barrier_between(sid, l_hi, len(seq_.children))
                                 or self._barrier_between(sid, -1, e_lo)):
            out.add((sid, e_lo))
        return out


def _thread_vars(body) -> list:
    found = []
    tvm_ffi.structural_walk(body, (tirx.AttrStmt, lambda a: found.append(a.node.var) if a.attr_key == "thread_extent"
                                   and a.node.thread_tag.startswith("threadIdx") else None))
    return found


def plan_statement_pool(body, bufs, sizes, aligns, transient) -> tuple[list, int, set] | None:
    """Like ``plan_pool`` with statement-level lifetimes for the ``transient`` buffers: (byte offsets, pool bytes,
    barrier positions for :func:`insert_statement_barriers`), or None when the body has no single thread launch."""
    launch = _innermost_launch(body)
    if launch is None:
        return None
    lin = _Linearized(launch.body, bufs, _thread_vars(body))
    sites = [lin.transient_site(b) if b in transient else lin.top_level_site(b) for b in bufs]
    placed = []  # (start byte, end byte, site)
    offsets, barriers = [], set()
    for site, size, align in zip(sites, sizes, aligns):
        off = 0
        while True:
            off = -(-off // align) * align
            clash = [p for p in placed if not (p[2].end < site.start or site.end < p[2].start)
                     and p[0] < off + size and off < p[1]]
            if not clash:
                break
            off = max(p[1] for p in clash)
        for start, end, other in placed:
            if start < off + size and off < end:  # bytes of a buffer dead over this one's range
                early, late = (other, site) if other.end < site.start else (site, other)
                barriers |= lin.barriers_for(early, late)
        placed.append((off, off + size, site))
        offsets.append(off)
    return offsets, max((p[1] for p in placed), default=0), barriers


def insert_statement_barriers(body, positions: set):
    """``body`` with ``__syncthreads()`` before the given (sequence, child) positions of its innermost launch
    (sequences numbered as :func:`plan_statement_pool` numbered them)."""
    if not positions:
        return body
    launch = _innermost_launch(body)
    counter = [0]

    def sequence(children):
        sid = counter[0]
        counter[0] += 1
        out = []
        for pos, child in enumerate(children):
            if (sid, pos) in positions:
                out.append(barrier())
            out.append(statement(child))
        return out[0] if len(out) == 1 else tirx.SeqStmt(out)

    def statement(stmt):
        if isinstance(stmt, tirx.SeqStmt):
            return sequence(list(stmt.seq))
        if isinstance(stmt, tirx.For):
            return tirx.For(stmt.loop_var, stmt.min, stmt.extent, stmt.kind, sequence(_as_children(stmt.body)),
                            stmt.thread_binding, stmt.annotations, stmt.step)
        if isinstance(stmt, tirx.While):
            return tirx.While(stmt.condition, sequence(_as_children(stmt.body)))
        if isinstance(stmt, tirx.IfThenElse):
            then_case = sequence(_as_children(stmt.then_case))
            else_case = sequence(_as_children(stmt.else_case)) if stmt.else_case is not None else None
            return tirx.IfThenElse(stmt.condition, then_case, else_case)
        if isinstance(stmt, tirx.AttrStmt):
            return tirx.AttrStmt(stmt.node, stmt.attr_key, stmt.value, sequence(_as_children(stmt.body)))
        return stmt

    new_launch = tirx.AttrStmt(launch.node, launch.attr_key, launch.value, sequence(_as_children(launch.body)))
    return tvm_ffi.structural_map(body, (tirx.AttrStmt, lambda a: new_launch if a.same_as(launch) else a),
                                  order="pre")
