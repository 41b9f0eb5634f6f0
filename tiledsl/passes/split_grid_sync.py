"""SplitGridSync: a kernel with ``T.sync_grid()`` becomes consecutive launches of the same grid.

Expects: the program as the front end builds it (global workspaces already parameters), before any other pass.
Guarantees: no ``tiledsl.sync_grid`` call remains. Each ``T.Kernel`` whose body holds grid barriers is cut at them:
the statements between two barriers become a launch of their own, with the same grid and thread extents (fresh
index variables), the on-chip allocations they use (fresh buffers) and the kernel's ``T.use_swizzle``. Launches
of one function run in order on one stream, so each sees every global write of the one before, which is what the
barrier promises; on the CPU, whose blocks run one after the other, this is the only exact way, and on CUDA it
needs no cooperative launch (no limit on the grid size, nothing to change in the launcher).

It is exact when no on-chip state lives across a barrier. The one kind carried over: a scalar (``t = bx * 32``,
``T.alloc_var(..., init=0)``) assigned once before the barrier, at the kernel's top level, from indices, arguments
and other such scalars is assigned again at the start of the later launch. Refused with a ``TileProgramError``: a
barrier that is not a statement directly in the kernel body (inside a loop, an ``if``, ...; the front end already
refuses it at the user's line); any other on-chip buffer (shared, fragment, local, ``T.alloc_var``) read after a
barrier before being written in full after it (``grid_sync_liveness``); a scalar bound before a barrier from
memory and used after it. A program without barriers is returned as it is (the very same object).
"""
from __future__ import annotations

import tvm
import tvm_ffi
from tvm import tirx

from ..errors import TileProgramError
from ..ir.grid_sync import is_sync_grid
from ..ir.ops import OUTPUT_ARG, tile_op
from .grid_sync_liveness import first_stale_read
from .rewriter import flatten_seq, seq, substitute, uses_var

_STATE_NOTE = ("tiledsl runs the code after T.sync_grid() as a new launch of the same grid, so shared, fragment and "
               "local memory (T.alloc_var and scalars assigned in the kernel body too) do not keep their values "
               "across the barrier")


def _contains_sync(node) -> bool:
    found = []
    tvm_ffi.structural_walk(node, (tirx.Evaluate, lambda s: found.append(s) if is_sync_grid(s) else None))
    return bool(found)


def _is_grid_launch(stmt) -> bool:
    return (isinstance(stmt, tirx.AttrStmt) and stmt.attr_key == "thread_extent"
            and str(stmt.node.thread_tag).startswith("blockIdx"))


def _is_swizzle(stmt) -> bool:
    return (isinstance(stmt, tirx.Evaluate) and isinstance(stmt.value, tvm.ir.Call)
            and isinstance(stmt.value.op, tvm.ir.Op) and stmt.value.op.same_as(tile_op("use_swizzle")))


def _enclosing_construct(stmt) -> str:
    """Words for the innermost statement around a barrier that is not at the kernel's top level."""
    found = []

    def visit(node, around):
        if is_sync_grid(node):
            found.append(around)
            return
        if isinstance(node, tirx.SeqStmt):
            for child in node.seq:
                visit(child, around)
        elif isinstance(node, tirx.For):
            visit(node.body, "a loop")
        elif isinstance(node, tirx.While):
            visit(node.body, "a while loop")
        elif isinstance(node, tirx.IfThenElse):
            visit(node.then_case, "an if")
            if node.else_case is not None:
                visit(node.else_case, "an if/else")
        elif isinstance(node, tirx.AttrStmt):
            visit(node.body, around if node.attr_key == "thread_extent" else f"a {node.attr_key} scope")
        elif getattr(node, "body", None) is not None:
            visit(node.body, f"a {type(node).__name__}")
    visit(stmt, "a nested statement")
    return found[0] if found else "a nested statement"


class _Launch:
    """A ``T.Kernel`` launch: its ``thread_extent`` headers (outermost first) and its body's statements."""

    def __init__(self, launch):
        self.headers = []
        node = launch
        while isinstance(node, tirx.AttrStmt) and node.attr_key == "thread_extent":
            self.headers.append(node)
            node = node.body
        self.body = node
        self.stmts = flatten_seq([node])

    def fresh_headers(self, phase: int):
        """The headers with new index variables (``old var -> new var``), for the launch of a later phase."""
        mapping = {}
        fresh = []
        for h in self.headers:
            iv = h.node
            var = tirx.Var(f"{iv.var.name}_{phase}", str(iv.var.ty))
            mapping[iv.var] = var
            fresh.append(tirx.IterVar(iv.dom, var, iv.iter_type, iv.thread_tag))
        return fresh, mapping

    @staticmethod
    def wrap(headers, values, body):
        for iv, value in reversed(list(zip(headers, values))):
            body = tirx.AttrStmt(iv, "thread_extent", value, body)
        return body


def _moves_later(stmt, phase_stmts, later) -> bool:
    """True for an allocation that its own phase never uses but a later one does."""
    if not isinstance(stmt, tirx.AllocBuffer):
        return False
    buf = stmt.buffer
    return not any(uses_var(s, buf) for s in phase_stmts if not s.same_as(stmt)) and uses_var(later, buf)


def _split_phases(stmts) -> list[list]:
    phases = [[]]
    for s in stmts:
        if is_sync_grid(s):
            phases.append([])
        else:
            phases[-1].append(s)
    return phases


def _scope_words(buf) -> str:
    scope = str(buf.scope())
    if scope.startswith("shared"):
        return "a shared buffer"
    if scope == "local.fragment":
        return "a fragment"
    if scope == "local" and all(isinstance(s, tirx.IntImm) and int(s) == 1 for s in buf.ty.shape):
        return "a T.alloc_var / scalar"
    return f"a {scope} buffer"


def _check_phase(index: int, body, earlier_buffers: list, earlier_views: list) -> None:
    for view in earlier_views:
        if uses_var(body, view.buffer):
            raise TileProgramError(
                f"T.sync_grid(): the view {view.buffer.name} is declared before grid barrier {index} and used after "
                f"it; {_STATE_NOTE}. Declare the view again after T.sync_grid()")
    used = [b for b in earlier_buffers if uses_var(body, b)]
    stale = first_stale_read(body, used)
    if stale is not None:
        name = stale.buffer.name
        raise TileProgramError(
            f"T.sync_grid(): {name} ({_scope_words(stale.buffer)} allocated before grid barrier {index}) is read "
            f"by {stale.what} after the barrier before being written in full after it; {_STATE_NOTE}. Write {name} "
            f"after T.sync_grid() before reading it (T.copy / T.fill / T.clear of the whole buffer, or a "
            f"T.Parallel loop storing every element), or pass the value through a global tensor")


def _written_otherwise(stmts) -> list:
    """Buffers that ``stmts`` write other than by a plain store: a tile op's output, or any buffer an opaque call
    mentions (it may write it through its address)."""
    found = []

    def on_eval(ev):
        call = ev.value
        if not isinstance(call, tvm.ir.Call):
            return
        name = call.op.name if isinstance(call.op, tvm.ir.Op) else ""
        short = name[len("tiledsl."):] if name.startswith("tiledsl.") else None
        if short in OUTPUT_ARG:
            out = call.args[OUTPUT_ARG[short]]
            found.append(out.source if isinstance(out, tvm.ir.TensorRegion) else out)
        elif not name.startswith("tiledsl."):
            tvm_ffi.structural_walk(call, (tirx.Var, found.append))
    tvm_ffi.structural_walk(seq(stmts), (tirx.Evaluate, on_eval))
    return found


def _restores(body, earlier_stmts: list) -> list:
    """Stores to redo at the start of a later launch: the scalar assignments (one-element buffers: ``t = bx * 32``,
    ``T.alloc_var(..., init=0)``) made once before the barrier, at the kernel's top level, from an expression of
    indices, arguments and other such scalars, that ``body`` may read before writing. Redoing them gives the value
    the scalar holds at the barrier, so these reads are exact."""
    stores = []
    tvm_ffi.structural_walk(seq(earlier_stmts), (tirx.BufferStore, stores.append))
    other_writes = _written_otherwise(earlier_stmts)
    once = {}  # buffer -> its single top-level store, in program order
    for st in earlier_stmts:
        if not isinstance(st, tirx.BufferStore) or len(st.buffer.ty.shape) != 1 or not _is_one(st.buffer.ty.shape[0]):
            continue
        buf = st.buffer
        if sum(1 for s in stores if s.buffer.same_as(buf)) != 1 or any(w.same_as(buf) for w in other_writes):
            continue
        loads = []
        tvm_ffi.structural_walk(st.value, (tvm.ir.TensorLoad, loads.append))
        if all(any(ld.source.same_as(b) for b in once) for ld in loads):
            once[buf] = st
    needed, frontier = [], [b for b in once if first_stale_read(body, [b]) is not None]  # read before written
    while frontier:
        buf = frontier.pop()
        if any(buf.same_as(n) for n in needed):
            continue
        needed.append(buf)
        frontier += [b for b in once if uses_var(once[buf].value, b)]
    return [st for b, st in once.items() if any(b.same_as(n) for n in needed)]


def _is_one(extent) -> bool:
    return isinstance(extent, tirx.IntImm) and int(extent) == 1


def _binds_needed(body, earlier_binds: list) -> list:
    """The top-level scalar bindings from before a barrier that ``body`` (or a needed binding) uses."""
    needed = []
    for b in reversed(earlier_binds):
        if uses_var(body, b.var) or any(uses_var(n.value, b.var) for n in needed):
            loads = []
            tvm_ffi.structural_walk(b.value, (tvm.ir.TensorLoad, loads.append))
            if loads:
                raise TileProgramError(
                    f"T.sync_grid(): the scalar {b.var.name} is bound before the grid barrier from memory and used "
                    f"after it; {_STATE_NOTE}. Compute {b.var.name} again after T.sync_grid()")
            needed.insert(0, b)
    return needed


def _split_launch(launch_stmt):
    launch = _Launch(launch_stmt)
    if not any(is_sync_grid(s) for s in launch.stmts):
        raise TileProgramError(
            f"T.sync_grid() must be a statement directly in the body of `with T.Kernel(...)`, but one is inside "
            f"{_enclosing_construct(launch.body)}; tiledsl cuts the kernel at the barrier into consecutive "
            f"launches, which needs the barrier at the kernel's top level (move it out, and loop over the phases "
            f"inside each side of it)")
    phases = _split_phases(launch.stmts)
    for k, stmts in enumerate(phases):
        if any(_contains_sync(s) for s in stmts):
            raise TileProgramError(
                f"T.sync_grid() must be a statement directly in the body of `with T.Kernel(...)`, but one is inside "
                f"{_enclosing_construct(seq(stmts))}; tiledsl cuts the kernel at top-level barriers only")
    swizzles = [s for stmts in phases for s in stmts if _is_swizzle(s)]
    phases = [[s for s in stmts if not _is_swizzle(s)] for stmts in phases]
    launches = []
    earlier_allocs, earlier_binds, earlier_stmts = [], [], []
    later_uses = [seq(sum(phases[k + 1:], [])) for k in range(len(phases))]
    for k, stmts in enumerate(phases):
        # an allocation used only after a barrier moves there (no shared memory held by a launch that never uses it)
        stmts = [s for s in stmts if not _moves_later(s, stmts, later_uses[k])]
        if all(isinstance(s, (tirx.AllocBuffer, tirx.Bind)) for s in stmts):  # nothing to run (barrier at an end)
            earlier_allocs += [s for s in phases[k] if isinstance(s, tirx.AllocBuffer)]
            earlier_binds += [s for s in phases[k] if isinstance(s, tirx.Bind)]
            earlier_stmts += phases[k]
            continue
        restores = _restores(seq(stmts), earlier_stmts) if k > 0 else []
        body = seq(restores + stmts)
        if k > 0:
            _check_phase(k, body, [a.buffer for a in earlier_allocs],
                         [d for d in earlier_stmts if isinstance(d, tirx.DeclBuffer)])
        binds = _binds_needed(body, earlier_binds) if k > 0 else []
        allocs = [a for a in earlier_allocs if uses_var(body, a.buffer) or any(uses_var(b.value, a.buffer)
                                                                                for b in binds)]
        phase_body = seq(swizzles + allocs + binds + restores + stmts)
        if k == 0:
            headers, values = [h.node for h in launch.headers], [h.value for h in launch.headers]
        else:
            headers, mapping = launch.fresh_headers(k)
            values = [h.value for h in launch.headers]
            for a in allocs:
                mapping[a.buffer] = tvm.ir.Var(a.buffer.name, a.buffer.ty)
            for b in binds:
                mapping[b.var] = tirx.Var(b.var.name, str(b.var.ty))
            phase_body = substitute(phase_body, mapping)
        launches.append(_Launch.wrap(headers, values, phase_body))
        earlier_allocs += [s for s in phases[k] if isinstance(s, tirx.AllocBuffer)]
        earlier_binds += [s for s in stmts if isinstance(s, tirx.Bind)]
        earlier_stmts += phases[k]
    return launches


def _split_body(stmt):
    if _is_grid_launch(stmt):
        return _split_launch(stmt) if _contains_sync(stmt) else [stmt]
    if isinstance(stmt, tirx.SeqStmt):
        return [out for s in stmt.seq for out in _split_body(s)]
    if _contains_sync(stmt):
        raise TileProgramError("T.sync_grid() must be a statement directly in the body of `with T.Kernel(...)`; "
                               "one is inside a statement around the kernel launch")
    return [stmt]


def split_grid_sync(func: tirx.PrimFunc) -> tirx.PrimFunc:
    """``func`` with each ``T.Kernel`` cut at its ``T.sync_grid()`` barriers into consecutive launches (``func``
    itself when it has none); raises ``TileProgramError`` when the cut would not be exact (see the module doc)."""
    if not _contains_sync(func.body):
        return func
    return func.with_body(seq(_split_body(func.body)))


def split_grid_sync_module(mod: tvm.IRModule) -> tvm.IRModule:
    """``split_grid_sync`` on every PrimFunc of ``mod`` (``mod`` itself when no function has a barrier)."""
    funcs = {gv: f for gv, f in mod.functions.items()}
    out = {gv: split_grid_sync(f) if isinstance(f, tirx.PrimFunc) else f for gv, f in funcs.items()}
    if all(out[gv].same_as(funcs[gv]) for gv in funcs):
        return mod
    return tvm.IRModule(out, attrs=mod.attrs)
