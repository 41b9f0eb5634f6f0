"""GroupReduceBarriers: the barriers around a TMA reduce-add's staging tiles become named barriers of the
warpgroups that write them (sm_90a; opt-in: ``TILEDSL_WARPGROUP_REDUCE=1``).

ReduceAtomicsTMA stages a fragment's tile through shared panels between two ``__syncthreads`` and lets thread 0
issue the reduce-adds (see its module docstring). Once layout inference has placed the fragment (LowerTileOpsCUDA),
each panel is written by the threads that hold its columns; a wgmma accumulator split between warpgroups by
columns (the attention backward's dQ, two warpgroups) gives each panel to one warpgroup. The warpgroups then need
not wait for each other: in the Nsight Compute profile of the backward (2026-12-06) a fifth of the warps' stall
samples were at block barriers, where one warpgroup waited for the other's gemms, which the tensor cores run after
its own. This pass rewrites, where every panel is written by one warpgroup only (proven from the stores' guards)::

    thread 0: wait_group.read 0; __syncthreads()        ->  first thread of each warpgroup: wait_group.read 0
                                                             bar.sync 1 + wg, 128
    staging writes; fence.proxy.async; __syncthreads()  ->  staging writes; fence.proxy.async; bar.sync 1 + wg, 128
    thread 0: every panel's reduce-add; commit           ->  first thread of warpgroup g: its panels; commit

and the wait before the kernel ends is each warpgroup leader's (bulk async-groups are per thread). Left as is: a
kernel whose threads are not whole warpgroups (at least two), one that already uses named barriers, a panel whose
writers are not provably one warpgroup.

Opt-in because it was slower where timed (H100, 2026-12-06, attention backward: 12.35-12.42 ms without, 12.54-12.55
with): the block barriers it removes also ordered the other warpgroup's dQ gemm (reading dS^T) before the next
iteration's dS^T stores, so TVM's barrier placement puts a block barrier there instead. It is the first half of
lifting those barriers: the second is dS^T in two tiles taking turns with the barriers placed by a pass that knows
they alternate (TVM's placement does not).
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, Range
from tvm.script import tirx as T
from tvm.sym import Analyzer

from ..lowering_options import schedule
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import flatten_seq, seq, uses_var
from .async_copy import is_barrier
from .async_gemms import string_args

WARPGROUP = 128


def _call_name(stmt) -> str:
    if isinstance(stmt, tirx.Evaluate) and isinstance(stmt.value, Call):
        return getattr(stmt.value.op, "name", "")
    return ""


def _leader_body(stmt, tid):
    """The statements ``if tid == 0: ...`` runs, or None for any other statement."""
    if not isinstance(stmt, tirx.IfThenElse) or stmt.else_case is not None:
        return None
    cond = stmt.condition
    if isinstance(cond, tirx.EQ) and cond.a.same_as(tid) and isinstance(cond.b, tirx.IntImm) and int(cond.b) == 0:
        return flatten_seq([stmt.then_case])
    return None


def _is_read_wait(stmt) -> bool:
    return _call_name(stmt) == "tirx.ptx.cp_async_bulk_wait_group" and "read" in string_args(stmt.value)


def _is_reduce_issue(body) -> bool:
    """Whether a leader's statements are reduce-adds followed by their commit."""
    return bool(body) and len(body) > 1 and _call_name(body[-1]) == "tirx.ptx.cp_async_bulk_commit_group" and \
        all(_call_name(s) == "tirx.ptx.cp_reduce_async_bulk_tensor" for s in body[:-1])


def _stores(stmt) -> list:
    """(buffer, guard conditions, loop (var, extent) pairs) of each store in ``stmt``."""
    out = []

    def visit(node, guards, loops):
        if isinstance(node, tirx.SeqStmt):
            for s in node.seq:
                visit(s, guards, loops)
        elif isinstance(node, tirx.For):
            visit(node.body, guards, loops + [(node.loop_var, node.min, node.extent)])
        elif isinstance(node, tirx.IfThenElse):
            visit(node.then_case, guards + [node.condition], loops)
            if node.else_case is not None:
                visit(node.else_case, guards + [tirx.Not(node.condition)], loops)
        elif isinstance(node, tirx.BufferStore):
            out.append((node.buffer, guards, loops))
        elif isinstance(node, (tirx.AttrStmt,)):
            visit(node.body, guards, loops)
        else:
            out.append((None, guards, loops))  # anything else: not a plain staging copy
    visit(stmt, [], [])
    return out


def _writer_groups(copies, staging, tid, groups) -> dict | None:
    """staging buffer -> the one warpgroup whose threads may write it, proven from the stores' guards (None when a
    store is not to a staging tile or a panel's writers are not provably one warpgroup)."""
    owner = {}
    for stmt in copies:
        for buf, guards, loops in _stores(stmt):
            if buf is None or not any(buf.same_as(b) for b in staging):
                return None
            writers = []
            for g in range(groups):
                analyzer = Analyzer()
                analyzer.bind(tid, Range(g * WARPGROUP, (g + 1) * WARPGROUP))
                for var, lo, extent in loops:
                    analyzer.bind(var, Range(lo, lo + extent))
                cond = tirx.const(True, "bool")
                for c in guards:
                    cond = tirx.And(cond, c)
                if not analyzer.can_prove(tirx.Not(cond)):
                    writers.append(g)
            key = next(b for b in staging if b.same_as(buf))
            if len(writers) != 1 or owner.get(key, writers[0]) != writers[0]:
                return None
            owner[key] = writers[0]
    return owner if len(owner) == len(staging) else None


def _named_barrier(tid):
    return tirx.Evaluate(T.ptx.bar.sync(tirx.Cast("uint32", 1 + tirx.floordiv(tid, WARPGROUP)),
                                        T.uint32(WARPGROUP)))


def _group_leader(tid):
    return tirx.floormod(tid, WARPGROUP) == 0


class _Rewrite:
    def __init__(self, tid, groups):
        self.tid, self.groups, self.changed = tid, groups, False

    def seq(self, node):
        stmts = flatten_seq([node])
        out = list(stmts)
        for i, stmt in enumerate(stmts):
            body = _leader_body(stmt, self.tid)
            if body is None or not _is_reduce_issue(body):
                continue
            plan = self._plan(stmts, i, body)
            if plan is None:
                continue
            wait_at, first_sync, owner = plan
            issue = []
            for g in sorted(set(owner.values())):
                mine = [call for call in body[:-1]
                        if any(owner[b] == g for b in owner if uses_var(call, b))]
                issue.append(tirx.IfThenElse(self.tid == g * WARPGROUP, seq(mine + [body[-1]]), None))
            out[wait_at] = tirx.IfThenElse(_group_leader(self.tid), stmts[wait_at].then_case, None)
            out[first_sync] = _named_barrier(self.tid)
            out[i - 1] = _named_barrier(self.tid)
            out[i] = seq(issue)
            self.changed = True
        return seq(out) if self.changed else node

    def _plan(self, stmts, i, body):
        """(index of the leader's wait, index of the barrier before the staging writes, panel -> warpgroup) for the
        reduce issued at ``stmts[i]``, or None when the statements around it are not ReduceAtomicsTMA's."""
        if i < 3 or not is_barrier(stmts[i - 1]) or _call_name(stmts[i - 2]) != "tirx.ptx.fence_proxy":
            return None
        j = i - 3
        while j >= 0 and isinstance(stmts[j], tirx.For):
            j -= 1
        copies = stmts[j + 1:i - 2]
        if j < 0 or not copies or not is_barrier(stmts[j]):
            return None
        staging = []  # the tiles the copies write, each read by one of the reduce-adds
        for stmt in copies:
            for buf, _, _ in _stores(stmt):
                if buf is not None and not any(buf.same_as(b) for b in staging):
                    staging.append(buf)
        if not all(any(uses_var(call, b) for call in body[:-1]) for b in staging):
            return None
        owner = _writer_groups(copies, staging, self.tid, self.groups)
        if owner is None:
            return None
        k = j - 1
        while k >= 0:
            lead = _leader_body(stmts[k], self.tid)
            if lead is not None and len(lead) == 1 and _is_read_wait(lead[0]):
                break
            if is_barrier(stmts[k]) or any(uses_var(stmts[k], b) for b in staging):
                return None
            k -= 1
        return (k, j, owner) if k >= 0 else None


def _uses_named_barriers(body) -> bool:
    found = []
    tvm_ffi.structural_walk(body, (Call, lambda c: found.append(c) if getattr(c.op, "name", "") in (
        "tirx.ptx.bar_sync", "tirx.ptx.bar_sync_count", "tirx.ptx.bar_arrive", "tirx.ptx.barrier_sync",
        "tirx.ptx.barrier_sync_count", "tirx.ptx.barrier_arrive") else None))
    return bool(found)


def _rewrite_launch(launch):
    nthreads = int(launch.value) if isinstance(launch.value, tirx.IntImm) else 0
    if nthreads < 2 * WARPGROUP or nthreads % WARPGROUP or _uses_named_barriers(launch.body):
        return launch
    tid = launch.node.var
    rewrite = _Rewrite(tid, nthreads // WARPGROUP)
    body = tvm_ffi.structural_map(launch.body, [(tirx.SeqStmt, rewrite.seq)], order="post")
    if not rewrite.changed:
        return launch

    def last_wait(stmt):  # the wait before the kernel ends: each leader waits for its own reduce-adds
        lead = _leader_body(stmt, tid)
        if lead is not None and len(lead) == 1 and _is_read_wait(lead[0]):
            return tirx.IfThenElse(_group_leader(tid), stmt.then_case, None)
        return stmt
    body = tvm_ffi.structural_map(body, [(tirx.IfThenElse, last_wait)], order="post")
    return tirx.AttrStmt(launch.node, launch.attr_key, launch.value, body)


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.GroupReduceBarriers")
@keep_tiledsl_errors
def GroupReduceBarriers(func, mod, ctx):
    """Warpgroup named barriers around TMA reduce-add staging tiles each written by one warpgroup (module doc)."""
    if not schedule("TILEDSL_WARPGROUP_REDUCE"):
        return func

    def on_attr(stmt):
        if stmt.attr_key == "thread_extent" and stmt.node.thread_tag == "threadIdx.x":
            return _rewrite_launch(stmt)
        return stmt
    body = tvm_ffi.structural_map(func.body, [(tirx.AttrStmt, on_attr)], order="post")
    return func if body.same_as(func.body) else func.with_body(body)
