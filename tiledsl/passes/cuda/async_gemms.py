"""ScheduleWgmmaGemms: independent wgmma gemms of one statement list run together, their waits moved to the first
statement that needs their result (sm_90a; the default since it timed the attention backward 4 % faster on the
H100; ``TILEDSL_ASYNC_GEMMS=0`` turns it off).

Every wgmma gemm otherwise ends with ``wgmma.wait_group 0``: the tensor cores stop whenever the threads compute,
even where the next gemm does not need the previous one (the attention backward's ``dP^T = V dO^T`` after
``S^T = K Q^T``). On each statement list of the tile program (a loop body, the kernel body), before the tile ops
are lowered:

1. **Hoisting.** A gemm (with the ``T.clear`` / ``T.fill`` of its accumulator right before it) moves up past
   statements it does not conflict with, to just after an earlier gemm, so the two are issued back to back.
   It moves only when it lands right after a gemm: other orders stay the program's.
2. **Deferred waits.** A gemm whose next statement does not touch its result is lowered without its wait
   (``wgmma_no_wait``); ``wgmma.wait_group k`` goes before the first later statement that does, ``k`` being the
   gemms issued after it and still allowed to run (wgmma groups complete in order). A statement this pass does
   not understand (a barrier, an mbarrier, a nested loop holding a gemm) and the end of the list wait for all.
3. **Waits past barriers** (default; ``TILEDSL_WAITS_PAST_BARRIERS=0`` turns it off): back-to-back gemms are
   issued in the order the threads need their results (groups complete in order), where neither uses what the
   other writes; the barriers, fences, bulk-copy waits and TMA stores PipelineCUDA and the TMA epilogues put in
   the list are understood (see :func:`_conflicts`) instead of each waiting for every gemm. The attention
   backward's dK gemm then runs while its dQ is staged and reduced into global memory.
4. **Operand reads first** (default; ``TILEDSL_HOIST_OPERAND_READS=0`` turns it off): before 1., a
   statement right after a gemm that touches it only by reading its A held in registers moves above the gemm (and
   its initialization), where those registers need no wait.

"Touches its result" (a conflict): reads or writes the gemm's accumulator or an A fragment (the instruction may read
it from registers; PTX leaves any access to those registers before the wait undefined), or writes a shared
operand. Reading a shared operand is no conflict. Buffers are compared whole. Gemms already scheduled by
PipelineCUDA (``wgmma_in_flight``, gemm-only pipelined loops; ``wgmma_counted``, a loop whose last gemm it
deferred) keep their schedule: a list holding one is left alone. Only gemms the final plan puts on wgmma are
counted (each commits exactly one group); lowering a counted gemm any other way is an internal error.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, StringImm, TensorRegion
from tvm.script import tirx as T

from ...ir.ops import is_tile_call, is_tile_statement, with_attrs
from ..lowering_options import schedule
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import flatten_seq, rebuild_for, seq
from ..tile_lowering_utils import parallel_nest, zero_fill_of
from .gemm_wgmma import COUNTED_ATTR, NO_WAIT_ATTR

_WRITTEN_ARG = {"copy": 1, "reduce": 1, "fill": 0, "atomic_add": 0, "gemm": 2}
# pure math (a prefix also covers its longer names: "tirx.exp" takes exp2 and exp10, "tirx.sin" sinh, ...)
_PURE_PREFIXES = ("tirx.exp", "tirx.log", "tirx.sqrt", "tirx.rsqrt", "tirx.pow", "tirx.fabs", "tirx.if_then_else",
                  "tirx.tanh", "tirx.sigmoid", "tirx.erf", "tirx.floor", "tirx.ceil", "tirx.round", "tirx.trunc",
                  "tirx.isnan", "tirx.isinf", "tirx.isfinite", "tirx.likely", "tirx.fmod", "tirx.nearbyint",
                  "tirx.sin", "tirx.cos", "tirx.tan", "tirx.asin", "tirx.acos", "tirx.atan", "tirx.reinterpret",
                  "tirx.bitwise", "tirx.shift_", "tirx.max_value", "tirx.min_value", "tirx.infinity",
                  "tirx.popcount", "tirx.clz", "tirx.copysign", "tirx.hypot", "tirx.nextafter", "tirx.ldexp",
                  "prim.if_then_else", "prim.log2", "prim.likely", "prim.clz", "prim.ceil")  # (TVM 0.27 keeps these)


class Effects:
    """What one statement reads and writes (buffers, compared whole), or ``opaque`` when it holds something this
    pass does not reason about."""

    def __init__(self, stmt):
        self.uses, self.writes, self.opaque, self.gemms = set(), set(), False, 0
        self.known = set()  # the kinds of _known_call this statement holds (each also makes it opaque)
        self.unknown = False  # opaque for another reason: an unknown call or tile op, a gemm in a nested loop

        def on_call(call):
            name = getattr(call.op, "name", "")
            kind = _known_call(call)
            if kind is not None:
                self.known.add(kind)
                self.opaque = True
            elif is_tile_call(call):
                op = name.split(".", 1)[1]
                if op not in _WRITTEN_ARG:
                    self.opaque = self.unknown = True
                    return
                target = call.args[_WRITTEN_ARG[op]]
                if isinstance(target, TensorRegion):
                    self.writes.add(target.source)
                self.gemms += op == "gemm"
            elif not name.startswith(_PURE_PREFIXES):
                self.opaque = self.unknown = True

        def on_store(store):
            self.writes.add(store.buffer)

        def on_bind(bind):
            self.writes.add(bind.var)

        def on_var(var):
            self.uses.add(var)
        tvm_ffi.structural_walk(stmt, [(Call, on_call), (tirx.BufferStore, on_store), (tirx.Bind, on_bind),
                                       (tirx.Var, on_var)])
        if isinstance(stmt, tirx.For) and self.gemms:
            self.opaque = self.unknown = True  # a gemm in a nested loop: its waits are that loop's business
        self.uses |= self.writes


def string_args(call) -> tuple:
    """The string arguments of ``call`` (a PTX call's modifiers, a storage sync's scope)."""
    return tuple(a.value for a in call.args if isinstance(a, StringImm))


_ADDRESS_HELPERS = ("tirx.address_of", "tirx.cuda.cvta_generic_to_shared", "tirx.type_annotation",
                    "tirx.buffer_data", "tirx.tvm_access_ptr")
_ASYNC_CALLS = ("tirx.ptx.cp_async_bulk_wait_group", "tirx.ptx.cp_async_bulk_commit_group",
                "tirx.ptx.cp_reduce_async_bulk_tensor")


def _known_call(call):
    """What a call PipelineCUDA or the TMA epilogues put in a loop is, for :func:`_conflicts` under
    ``TILEDSL_WAITS_PAST_BARRIERS``: "barrier" (``__syncthreads``), "release" (an mbarrier arrive: this thread is
    done with a ring stage), "ring" (a ring's TMA load, its expect-tx arrive, an mbarrier wait), "async" (a fence
    between the generic and the async proxy, a bulk copy's commit or wait, a TMA reduction or store from shared
    to global memory: none reads a register or writes shared memory), "address" (an address computation inside
    those), or None."""
    name = getattr(call.op, "name", "")
    words = string_args(call)
    if name == "tirx.tvm_storage_sync":
        return "barrier" if words == ("shared",) else None
    if name == "tirx.ptx.mbarrier_arrive":
        return "release"
    if name in ("tirx.cuda.mbarrier_wait", "tirx.ptx.mbarrier_arrive_expect_tx") or \
            name.startswith("tirx.ptx.cp_async_bulk_tensor_g2s"):
        return "ring"  # a TMA load into a ring stage: its writes are ordered by the ring's mbarriers
    if name in _ASYNC_CALLS or (name == "tirx.ptx.fence_proxy" and words[:2] == ("proxy", "async")):
        return "async"
    if name.startswith("tirx.ptx.cp_async_bulk_tensor") and "global" in words and "shared::cta" in words and \
            words.index("global") < words.index("shared::cta"):
        return "async"  # a TMA store: global <- shared
    if name in _ADDRESS_HELPERS:
        return "address"
    return None


def wgmma_gemm_of(stmt, wgmma):
    """The gemm call of a top-level gemm statement whose accumulator is in ``wgmma`` (the gemms that will run on
    wgmma), else None (a gemm on mma.sync or FMA is an ordinary, synchronous statement here)."""
    if is_tile_statement(stmt, "gemm") and stmt.value.args[2].source in wgmma:
        return stmt.value
    return None


def _operands(gemm):
    return {r.source for r in gemm.args[:3]}


def _conflicts(gemm, effects, context=None) -> bool:
    """True when a statement with ``effects`` touches the result of ``gemm`` (see the module doc): it uses the
    accumulator or an A held in registers (PTX: reading either before the wait is undefined), or writes an
    operand. With ``TILEDSL_WAITS_PAST_BARRIERS`` and ``context`` (the effects of every statement of the list), a
    statement whose only calls are those of :func:`_known_call` is understood: "async" and "address" calls touch
    no gemm; a ring call or a release (an arrive: each thread waits for its own gemms first, and the producer
    refills a stage only when every thread has arrived) waits; a barrier only lets the other threads on, so it
    waits only when a statement of the list (a loop body's earlier statements run again after it) may write a
    shared operand of the gemm with thread stores."""
    if effects.opaque:
        if context is None or effects.unknown or not schedule("TILEDSL_WAITS_PAST_BARRIERS") or \
                effects.known & {"release", "ring"}:
            return True
        if "barrier" in effects.known:
            shared = {r.source for r in gemm.args[:2] if r.source.scope().startswith("shared")}
            if any(e.unknown or e.writes & shared for e in context):
                return True
    registers = {r.source for r in gemm.args[:3] if r.source.scope() in ("local.fragment", "local")}
    return bool(effects.uses & registers) or bool(effects.writes & _operands(gemm))


def _initializes(stmt, acc) -> bool:
    """``stmt`` is ``T.clear`` / ``T.fill`` of exactly ``acc``."""
    return is_tile_statement(stmt, "fill") and stmt.value.args[0].source.same_as(acc)


_PIN = {"float32": ("f32", "float", "f"), "int32": ("s32", "int", "r")}


def register_fences(local):
    """For LowerTileOpsCUDA: one empty asm per register of ``local`` (a fragment's per-thread buffer) that
    "reads and writes" it, so no use of the register moves above this point; nothing for other types."""
    if local is None or str(local.ty.dtype) not in _PIN or len(local.ty.shape) != 1:
        return tirx.Evaluate(tirx.const(0, "int32"))
    suffix, ctype, constraint = _PIN[str(local.ty.dtype)]
    name = f"tiledsl_pin_{suffix}"
    source = (f'__forceinline__ __device__ void {name}({ctype}& r) {{ asm volatile("" : "+{constraint}"(r) :: '
              f'"memory"); }}\n')
    return seq([tirx.Evaluate(T.cuda.func_call(name, tirx.BufferLoad(local, [tirx.const(i, "int32")]),
                                               source_code=source))
                for i in range(int(local.ty.shape[0]))])


def _hoisted(stmts: list, wgmma) -> list:
    """Gemms (with their accumulator's initialization) moved up to just after an earlier gemm they do not depend
    on, past statements they do not conflict with."""
    out = list(stmts)
    k = 0
    while k < len(out):
        gemm = wgmma_gemm_of(out[k], wgmma)
        if gemm is None:
            k += 1
            continue
        start = _unit_start(out, k, gemm)
        unit = out[start:k + 1]
        unit_effects = [Effects(s) for s in unit]
        dest = start
        while dest > 0:
            prev = Effects(out[dest - 1])
            if wgmma_gemm_of(out[dest - 1], wgmma) is not None or prev.opaque or any(
                    depends(u, prev) for u in unit_effects):
                break
            dest -= 1
        if dest < start and dest > 0 and wgmma_gemm_of(out[dest - 1], wgmma) is not None:
            out = out[:dest] + unit + out[dest:start] + out[k + 1:]
        k += 1
    return out


def _unit_start(stmts: list, k: int, gemm) -> int:
    """Where the gemm ``stmts[k]`` starts as a unit: at the ``T.clear`` / ``T.fill`` of its accumulator right
    before it, if there is one, else at itself."""
    return k - 1 if k > 0 and _initializes(stmts[k - 1], gemm.args[2].source) else k


def _gemm_units(stmts: list, wgmma) -> list:
    """``[(start, end)]``: each gemm statement with its accumulator's initialization (``stmts[start:end]``), in
    order."""
    return [(_unit_start(stmts, k, gemm), k + 1) for k, gemm in
            ((k, wgmma_gemm_of(s, wgmma)) for k, s in enumerate(stmts)) if gemm is not None]


def _needed_first(stmts: list, wgmma) -> list:
    """Back-to-back gemms issued in the order their results are needed (``TILEDSL_WAITS_PAST_BARRIERS``): wgmma
    groups complete in order, so a gemm issued after one whose result the threads need first would be waited for
    with it (the attention backward's ``dK += dS^T Q`` then ``dQ = dS K``, whose dQ the loop stores at once: dK
    now runs on while dQ is staged and reduced into global memory). Two gemms swap only when neither uses what
    the other writes."""
    out = list(stmts)
    changed = True
    while changed:
        changed = False
        units = _gemm_units(out, wgmma)
        effects = [Effects(s) for s in out]
        for (a0, a1), (b0, b1) in zip(units, units[1:]):
            if a1 != b0 or any(depends(effects[x], effects[y]) for x in range(a0, a1) for y in range(b0, b1)):
                continue
            need = [next((j for j in range(b1, len(out)) if _conflicts(wgmma_gemm_of(out[end - 1], wgmma),
                                                                       effects[j], effects)), len(out))
                    for end in (a1, b1)]
            if need[1] < need[0]:
                out = out[:a0] + out[b0:b1] + out[a0:a1] + out[b1:]
                changed = True
                break
    return out


def _operand_reads_first(stmts: list, wgmma) -> list:
    """A statement right after a gemm (and its accumulator's initialization) that touches the gemm only by reading
    its A held in registers moves above them (``TILEDSL_HOIST_OPERAND_READS``, default): read before the issue, those
    registers need no wait (the attention backward's ``T.copy(dsT_cast, dsT_s)`` after ``dK += dS^T Q``, which
    otherwise drained the tensor pipe before the dQ gemm)."""
    out = list(stmts)
    k = 0
    while k + 1 < len(out):
        gemm = wgmma_gemm_of(out[k], wgmma)
        after = Effects(out[k + 1])
        if gemm is None or wgmma_gemm_of(out[k + 1], wgmma) is not None or after.opaque or \
                after.writes & _operands(gemm) or after.uses & {gemm.args[2].source} or \
                not _conflicts(gemm, after):
            k += 1
            continue
        start = _unit_start(out, k, gemm)
        if any(depends(Effects(u), after) for u in out[start:k + 1]):
            k += 1
            continue
        out = out[:start] + [out[k + 1]] + out[start:k + 1] + out[k + 2:]
        k += 1
    return out


def depends(a, b) -> bool:
    """Statements with effects ``a`` and ``b`` may not swap: one writes what the other uses."""
    return a.opaque or b.opaque or bool(a.writes & b.uses) or bool(b.writes & a.uses)


FENCE_ATTR = "tiledsl.fence_registers"  # marker: LowerTileOpsCUDA pins this fragment's registers here


def pin_registers(buf):
    return tirx.AttrStmt(buf, FENCE_ATTR, tirx.const(0, "int32"), tirx.Evaluate(tirx.const(0, "int32")))


def wgmma_wait(count: int, fragments=()):
    """``wgmma.wait_group count``, then a register fence for each accumulator it completes: an empty asm that
    reads and writes every register, so the compiler cannot hoist their uses above the wait (without it ptxas
    finds such a use and inserts a full wait of its own there)."""
    fences = [pin_registers(buf) for buf in fragments]
    return seq([tirx.Evaluate(T.ptx.wgmma.wait_group.sync.aligned(count))] + fences)


def counted_gemm(stmt, deferred: bool):
    """The gemm marked as counted in the waits' group counts (its lowering must commit a wgmma group: anything
    else is an internal error, not a wait that lets an unfinished gemm through) and, if ``deferred``, as leaving
    its wait to a later statement."""
    marks = {COUNTED_ATTR: 1, **({NO_WAIT_ATTR: 1} if deferred else {})}
    return tirx.Evaluate(with_attrs(stmt.value, **marks))


def _deferred(stmts: list, wgmma) -> list:
    """The list with each gemm's wait moved to its first dependent statement (see the module doc)."""
    effects = [Effects(s) for s in stmts]
    gemms = [k for k, s in enumerate(stmts) if wgmma_gemm_of(s, wgmma) is not None]
    waits: dict = {}  # statement index -> the fewest groups that may stay in flight before it
    done: dict = {}  # statement index -> the accumulators whose gemms that wait completes
    deferred = set()
    for g in gemms:
        call = wgmma_gemm_of(stmts[g], wgmma)
        first = next((j for j in range(g + 1, len(stmts)) if _conflicts(call, effects[j], effects)), len(stmts))
        if first == g + 1:
            continue  # the next statement needs it: the gemm keeps its own wait
        deferred.add(g)
        later = sum(1 for h in gemms if g < h < first)
        waits[first] = min(waits.get(first, later), later)
        done.setdefault(first, []).append(call.args[2].source)
    if not deferred:
        return stmts
    out = []
    for k, s in enumerate(stmts):
        if k in waits:
            out.append(wgmma_wait(waits[k], done[k]))
        if k in gemms and any(d < k for d in deferred):  # issued while another gemm runs: pin its registers
            out.append(pin_registers(wgmma_gemm_of(s, wgmma).args[2].source))
        out.append(counted_gemm(s, deferred=k in deferred) if k in gemms else s)
    if len(stmts) in waits:
        out.append(wgmma_wait(0, done[len(stmts)]))
    return out


def _schedule(stmts: list, wgmma) -> list:
    if sum(wgmma_gemm_of(s, wgmma) is not None for s in stmts) == 0:
        return stmts
    if any(_in_flight(s, wgmma) for s in stmts):  # PipelineCUDA placed its waits: only the zero start is added
        return _zero_init(stmts, wgmma)
    if schedule("TILEDSL_HOIST_OPERAND_READS"):
        stmts = _operand_reads_first(stmts, wgmma)
    stmts = _hoisted(stmts, wgmma)
    if schedule("TILEDSL_WAITS_PAST_BARRIERS"):
        stmts = _needed_first(stmts, wgmma)
    return _deferred(_zero_init(stmts, wgmma), wgmma)


def _zero_init(stmts: list, wgmma) -> list:
    """``T.clear(acc); T.gemm(..., acc)`` -> ``T.gemm(..., acc, clear_accum=True)``: the first wgmma then starts from
    zero (scale-d 0) instead of reading registers just zeroed. (With the zeroing moves, ptxas coalesced them with
    the zeroing of an accumulator still in flight and waited for that gemm first.)"""
    out = []
    for s in stmts:
        gemm = wgmma_gemm_of(s, wgmma)
        prev = out[-1] if out else None
        if gemm is not None and prev is not None and _zeroes(prev, gemm.args[2].source):
            out[-1] = tirx.Evaluate(with_attrs(gemm, clear_accum=True))
            continue
        out.append(s)
    return out


def _is_zero(value) -> bool:
    return isinstance(value, (tirx.IntImm, tirx.FloatImm)) and float(value.value) == 0.0


def _zeroes(stmt, acc) -> bool:
    """``stmt`` sets every element of ``acc`` to zero: ``T.clear`` / ``T.fill(acc, 0)`` of the whole tile, or a
    ``T.Parallel`` nest over its whole shape storing 0 at the loop indices (a mask SplitUniformSelects proved
    all-zero on this tile)."""
    if _initializes(stmt, acc):
        return zero_fill_of(stmt) is not None
    loops, node = parallel_nest(stmt)
    shape = list(acc.ty.shape) if isinstance(getattr(acc, "ty", None), tirx.BufferType) else []
    if not loops or not isinstance(node, tirx.BufferStore) or not node.buffer.same_as(acc) or \
            len(loops) != len(shape) or not _is_zero(node.value):
        return False
    return all(isinstance(f.min, tirx.IntImm) and int(f.min) == 0 and isinstance(f.extent, tirx.IntImm) and
               isinstance(e, tirx.IntImm) and int(f.extent) == int(e) and i.same_as(f.loop_var)
               for f, e, i in zip(loops, shape, node.indices))


def _in_flight(stmt, wgmma) -> bool:
    """A gemm PipelineCUDA already scheduled: left in flight across iterations, or counted by its own waits (a
    loop whose last gemm it deferred to the next iteration)."""
    from .gemm_wgmma import IN_FLIGHT_ATTR
    call = wgmma_gemm_of(stmt, wgmma)
    return call is not None and call.attrs is not None and any(a in call.attrs for a in (IN_FLIGHT_ATTR,
                                                                                           COUNTED_ATTR))


def _rewrite(stmt, wgmma):
    """Schedule every statement list in ``stmt`` (loop bodies, branches, the kernel body)."""
    if isinstance(stmt, tirx.SeqStmt):
        return seq(_schedule([_rewrite(s, wgmma) for s in flatten_seq([stmt])], wgmma))
    if isinstance(stmt, tirx.For):
        return rebuild_for(stmt, body=_rewrite(stmt.body, wgmma))
    if isinstance(stmt, tirx.IfThenElse):
        else_case = _rewrite(stmt.else_case, wgmma) if stmt.else_case is not None else None
        return tirx.IfThenElse(stmt.condition, _rewrite(stmt.then_case, wgmma), else_case)
    if isinstance(stmt, tirx.AttrStmt):
        return tirx.AttrStmt(stmt.node, stmt.attr_key, stmt.value, _rewrite(stmt.body, wgmma))
    return stmt


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.ScheduleWgmmaGemms")
@keep_tiledsl_errors
def ScheduleWgmmaGemms(func, mod, ctx):
    """Issue independent wgmma gemms together and wait for each where its result is first needed (see module
    doc; sm_90a only; ``TILEDSL_ASYNC_GEMMS=0`` turns it off)."""
    from .gemm_wgmma import sm90a

    if not schedule("TILEDSL_ASYNC_GEMMS") or not sm90a():
        return func
    from .lower_tile_ops import thread_count
    from .pipeline import wgmma_accumulators

    return func.with_body(_rewrite(func.body, wgmma_accumulators(func.body, thread_count(func.body))))
