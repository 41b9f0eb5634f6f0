"""LowerWarpShuffleCPU: warp shuffles for the CPU target.

Handles TVM's ``T.tvm_warp_shuffle`` / ``_up`` / ``_down`` (mask, value, lane or offset, width, warp_size) and the
CUDA intrinsics behind TileLang's ``T.shfl_sync`` / ``shfl_up`` / ``shfl_down`` / ``shfl_xor`` (``__shfl_*_sync``
extern calls: mask, value, lane or offset[, width]).

On the CPU a block's threads become loops that run each per-thread statement for every thread before the next one
starts (KernelToLoopsCPU), so the end of a statement is a barrier. A statement ``S`` holding a shuffle of ``v``
becomes two: ``scratch[tid] = v`` (every thread publishes its value), then ``S`` reading ``scratch[src(tid)]``,
with ``tid`` the linear thread index (x + X * (y + Y * z), as CUDA numbers warps) and ``src`` the lane that PTX's
``shfl.sync`` picks (CUDA's ``__shfl_*_sync`` with ``c = ((32 - width) << 8) | clamp``): segments of ``width``
lanes; up/down/xor sources beyond the segment bound give the caller its own value; ``shfl_sync`` lanes are taken
modulo ``width``; offsets and lanes use their low 5 bits. ``warp_size`` is ignored, as CUDA does: a warp is 32
lanes. Nested shuffles are taken innermost first.

This is exact only when every thread of the block runs the shuffle together. A shuffle under a branch or a loop
bound that depends on the thread index or on per-thread data, inside ``T.Parallel``, inside a ``while`` loop, in
an arm of ``T.if_then_else`` / a select / ``and`` / ``or``, with a mask leaving out lanes of the block, of a
non-scalar value, or one that may read a lane missing from a partial warp is a TileProgramError.

Expects: the program as the front end builds it, before LowerTileOpsCPU (which removes the ``T.Parallel`` marks)
and KernelToLoopsCPU. Guarantees: no shuffle remains; a vectorized loop around one becomes serial; each scratch
tile is allocated at the top of its innermost thread launch.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import tvm
import tvm_ffi
from tvm import tirx
from tvm.ir import Range
from tvm.sym import Analyzer

from ..errors import TileProgramError
from ..language.loops import PARALLEL_ATTR
from .pass_errors import keep_tiledsl_errors
from .rewriter import rebuild_for, seq

WARP = 32
_FULL_MASK = 0xFFFFFFFF
_THREAD_TAGS = ("threadIdx.x", "threadIdx.y", "threadIdx.z")

#: op name -> (mode, the name the user wrote)
_TVM_SHUFFLES = {"tirx.tvm_warp_shuffle": ("idx", "T.tvm_warp_shuffle"),
                 "tirx.tvm_warp_shuffle_up": ("up", "T.tvm_warp_shuffle_up"),
                 "tirx.tvm_warp_shuffle_down": ("down", "T.tvm_warp_shuffle_down")}
#: extern name -> (mode, the name the user wrote)
_EXTERN_SHUFFLES = {"__shfl_sync": ("idx", "T.shfl_sync"), "__shfl_up_sync": ("up", "T.shfl_up"),
                    "__shfl_down_sync": ("down", "T.shfl_down"), "__shfl_xor_sync": ("xor", "T.shfl_xor")}
_IF_THEN_ELSE = "prim.if_then_else"


@dataclass
class _Shuffle:
    """One shuffle call, in CUDA's terms."""
    mode: str  # idx | up | down | xor
    name: str
    mask: tirx.Expr
    value: tirx.Expr
    lane: tirx.Expr  # the source lane (idx) or the offset / lane mask
    width: tirx.Expr
    wrong_arity: str | None = None  # why the call's arguments cannot be a shuffle's


def as_shuffle(expr) -> _Shuffle | None:
    """The shuffle ``expr`` calls, or None if it is no shuffle."""
    if not isinstance(expr, tvm.ir.Call) or not isinstance(expr.op, tvm.ir.Op):
        return None
    args = list(expr.args)
    name = expr.op.name
    if name in _TVM_SHUFFLES:
        mode, label = _TVM_SHUFFLES[name]
        if len(args) != 5:
            return _Shuffle(mode, label, None, None, None, None, f"takes (mask, value, lane, width, warp_size), "
                            f"got {len(args)} arguments")
        return _Shuffle(mode, label, args[0], args[1], args[2], args[3])
    if name == "tirx.call_extern" and args and isinstance(args[0], tvm.ir.StringImm) and \
            args[0].value in _EXTERN_SHUFFLES:
        mode, label = _EXTERN_SHUFFLES[args[0].value]
        if len(args) not in (4, 5):
            return _Shuffle(mode, label, None, None, None, None, f"({args[0].value}) takes (mask, value, lane, "
                            f"[width]), got {len(args) - 1} arguments")
        width = args[4] if len(args) == 5 else tirx.const(WARP, "int32")
        return _Shuffle(mode, label, args[1], args[2], args[3], width)
    return None


def _contains_shuffle(node) -> bool:
    found = []
    tvm_ffi.structural_walk(node, (tvm.ir.Call, lambda c: found.append(c) if as_shuffle(c) is not None else None))
    return bool(found)


def _show(stmt) -> str:
    """The statement as the user may recognize it (one line)."""
    if isinstance(stmt, tirx.BufferStore):
        return f"{stmt.buffer.name}[{', '.join(str(i) for i in stmt.indices)}] = {stmt.value}"
    if isinstance(stmt, tirx.Evaluate):
        return str(stmt.value)
    lines = [line.strip() for line in str(stmt).splitlines() if line.strip() and not line.startswith("#")
             and not re.match(r"^\w+ = T\.(Buffer\(|\w+\(\)$)", line)]
    return lines[0] if len(lines) == 1 else f"{lines[0]} ..."


@dataclass
class _Launch:
    """The thread launches around a statement and the scratch tiles of its innermost launch."""
    threads: list  # (var, extent) in x, y, z order
    tagged: dict  # thread tag -> (var, extent)
    scratch: list = field(default_factory=list)

    @property
    def size(self) -> int:
        total = 1
        for _, extent in self.threads:
            total *= extent
        return total

    def linear(self):
        """CUDA's linear thread index x + X * (y + Y * z)."""
        index, stride = tirx.const(0, "int32"), 1
        for var, extent in self.threads:
            index = index + var * stride if stride > 1 else index + var
            stride *= extent
        return index


class _Lowering:
    """Rewrites the statements that hold shuffles (see the module doc)."""

    def __init__(self, func):
        self.locals = set()
        tvm_ffi.structural_walk(func.body, (tirx.AllocBuffer, lambda s: self.locals.add(s.buffer)
                                            if s.buffer.scope() == "local" else None))
        self.count = 0

    # ------------------------------------------------------------------ statements
    def rewrite(self, stmt, launch: _Launch | None, divergent: str | None):
        if stmt is None or not _contains_shuffle(stmt):
            return stmt
        if isinstance(stmt, tirx.SeqStmt):
            return seq([self.rewrite(s, launch, divergent) for s in stmt.seq])
        if isinstance(stmt, tirx.AttrStmt):
            return self._attr(stmt, launch, divergent)
        if isinstance(stmt, tirx.For):
            return self._loop(stmt, launch, divergent)
        if isinstance(stmt, tirx.IfThenElse):
            if divergent is None and self._per_thread(stmt.condition, launch):
                divergent = f"the branch `if {stmt.condition}:`"
            return tirx.IfThenElse(stmt.condition, self.rewrite(stmt.then_case, launch, divergent),
                                   self.rewrite(stmt.else_case, launch, divergent))
        if isinstance(stmt, (tirx.BufferStore, tirx.Evaluate)):
            return self._leaf(stmt, launch, divergent)
        if isinstance(stmt, tirx.While):
            raise self._error(self._first_shuffle(stmt), stmt, "is inside a while loop, which the CPU target runs "
                              "thread by thread; use a T.serial loop with a fixed trip count")
        raise self._error(self._first_shuffle(stmt), stmt, f"is inside a {type(stmt).__name__} statement, which the "
                          f"CPU target cannot split into the steps of a shuffle")

    def _attr(self, stmt, launch, divergent):
        if stmt.attr_key == "thread_extent" and stmt.node.thread_tag in _THREAD_TAGS:
            tagged = dict(launch.tagged) if launch is not None else {}
            tagged[stmt.node.thread_tag] = (stmt.node.var, int(stmt.value))
            inner = _Launch([tagged[tag] for tag in _THREAD_TAGS if tag in tagged], tagged)
            body = self.rewrite(stmt.body, inner, divergent)
            if inner.scratch:
                body = seq([tirx.AllocBuffer(buf) for buf in inner.scratch] + [body])
            return tirx.AttrStmt(stmt.node, stmt.attr_key, stmt.value, body)
        return tirx.AttrStmt(stmt.node, stmt.attr_key, stmt.value, self.rewrite(stmt.body, launch, divergent))

    def _loop(self, loop, launch, divergent):
        if PARALLEL_ATTR in loop.annotations:
            raise self._error(self._first_shuffle(loop), loop, "is inside T.Parallel, whose iterations the CPU target "
                              "does not give to threads as a GPU layout would; shuffle in per-thread code "
                              "(T.get_thread_binding) outside T.Parallel")
        if divergent is None and (self._per_thread(loop.min, launch) or self._per_thread(loop.extent, launch)):
            end = Analyzer().simplify(loop.min + loop.extent)
            divergent = f"the loop `for {loop.loop_var} in range({loop.min}, {end})`"
        kind = tirx.ForKind.SERIAL if loop.kind == tirx.ForKind.VECTORIZED else loop.kind
        return rebuild_for(loop, body=self.rewrite(loop.body, launch, divergent), kind=kind)

    def _per_thread(self, expr, launch) -> bool:
        """True if ``expr`` may differ between the threads of a block (thread indices, per-thread buffers)."""
        thread_vars = [var for var, _ in launch.threads] if launch is not None else []
        found = []

        def check(v):
            if any(v.same_as(t) for t in thread_vars) or v in self.locals:
                found.append(v)

        tvm_ffi.structural_walk(expr, (tirx.Var, check))
        return bool(found)

    # ------------------------------------------------------------------ one statement
    def _leaf(self, stmt, launch, divergent):
        first = self._first_shuffle(stmt)
        if launch is None:
            raise self._error(first, stmt, "is outside the thread launch of a T.Kernel")
        if divergent is not None:
            raise self._error(first, stmt, f"is under {divergent}, which depends on the thread index or on per-thread "
                              f"data, so only some threads of a warp may run it; the CPU target needs every thread "
                              f"of the block to run each shuffle: shuffle outside it and select or keep the result "
                              f"there")
        self._check_not_conditional(stmt)
        publish, errors = [], []

        def on_call(call):
            shuffle = as_shuffle(call)
            if shuffle is None or errors:
                return call
            try:
                self._check(shuffle, launch, stmt)
            except TileProgramError as err:  # raised below: an exception in a callback loses its type in TVM
                errors.append(err)
                return call
            self.count += 1
            scratch = tirx.decl_buffer((launch.size,), str(shuffle.value.ty), f"shfl_scratch{self.count}",
                                       scope="shared")
            launch.scratch.append(scratch)
            tid = launch.linear()
            publish.append(tirx.BufferStore(scratch, shuffle.value, [tid]))
            return tirx.BufferLoad(scratch, [_source_thread(shuffle, tid, launch)])

        body = tvm_ffi.structural_map(stmt, [(tvm.ir.Call, on_call)], order="post")
        if errors:
            raise errors[0]
        return seq(publish + [body])

    def _check_not_conditional(self, stmt):
        """A shuffle in an arm that CUDA evaluates for some threads only is refused."""
        arms = []

        def on_call(call):
            if isinstance(call.op, tvm.ir.Op) and call.op.name == _IF_THEN_ELSE:
                arms.extend([(call.args[1], "an arm of T.if_then_else"), (call.args[2], "an arm of T.if_then_else")])

        tvm_ffi.structural_walk(stmt, [(tvm.ir.Call, on_call),
                                       (tirx.Select, lambda e: arms.extend([(e.true_value, "an arm of a select"),
                                                                            (e.false_value, "an arm of a select")])),
                                       ((tirx.And, tirx.Or), lambda e: arms.append((e.b, "the right side of and/or")))])
        for arm, what in arms:
            if _contains_shuffle(arm):
                raise self._error(self._first_shuffle(arm), stmt, f"is inside {what}, which on CUDA runs it only in "
                                  f"the threads taking that side; shuffle into a variable first and select between "
                                  f"the results")

    def _check(self, shuffle: _Shuffle, launch: _Launch, stmt):
        """Refuse what the emulation cannot reproduce exactly (see the module doc)."""
        if shuffle.wrong_arity is not None:
            raise self._error(shuffle, stmt, shuffle.wrong_arity)
        lanes = tvm.DataType(str(shuffle.value.ty)).lanes
        if lanes != 1:
            raise self._error(shuffle, stmt, f"exchanges a vector of {lanes} lanes ({shuffle.value.ty}); the CPU "
                              f"target shuffles scalars: shuffle each element")
        size = launch.size
        mask = Analyzer().simplify(shuffle.mask)
        if not isinstance(mask, tirx.IntImm):
            raise self._error(shuffle, stmt, f"has the mask `{shuffle.mask}`, which is not a constant; the CPU target "
                              f"runs shuffles in which every lane of the warp takes part (mask 0xFFFFFFFF)")
        needed = _FULL_MASK if size >= WARP else (1 << size) - 1
        if int(mask.value) & needed != needed:
            raise self._error(shuffle, stmt, f"has the mask {int(mask.value) & _FULL_MASK:#x}, which leaves out "
                              f"lanes of a block of {size} threads; the CPU target runs shuffles in which every "
                              f"thread takes part: use the mask {needed:#x}")
        width = Analyzer().simplify(shuffle.width)
        if isinstance(width, tirx.IntImm):
            w = int(width.value)
            if not (1 <= w <= WARP and w & (w - 1) == 0):
                raise self._error(shuffle, stmt, f"has width={w}; CUDA defines shuffles for a width that is a power "
                                  f"of 2 from 1 to 32")
        if not _sources_exist(shuffle, width, size):
            raise self._error(shuffle, stmt, f"may read a lane that does not exist: the block has {size} threads, "
                              f"so its last warp has only {size % WARP} lanes (undefined on CUDA); use a width that "
                              f"divides the thread count, or a multiple of 32 threads")

    @staticmethod
    def _first_shuffle(node) -> _Shuffle | None:
        found = []
        tvm_ffi.structural_walk(node, (tvm.ir.Call, lambda c: found.append(as_shuffle(c))
                                       if as_shuffle(c) is not None else None))
        return found[0] if found else None

    @staticmethod
    def _error(shuffle: _Shuffle | None, stmt, why: str) -> TileProgramError:
        name = shuffle.name if shuffle is not None else "a warp shuffle"
        return TileProgramError(f"{name} in `{_show(stmt)}` {why}")


def _sources_exist(shuffle: _Shuffle, width, size: int) -> bool:
    """True if every source lane the shuffle can pick is a thread of the block (partial warps have holes)."""
    if size % WARP == 0 or shuffle.mode == "up":  # up only reads lower lanes of the caller's segment
        return True
    if isinstance(width, tirx.IntImm) and size % int(width.value) == 0:  # every segment lies in the block
        return True
    lane = Analyzer().simplify(shuffle.lane)
    if shuffle.mode == "xor" and isinstance(lane, tirx.IntImm) and size < WARP and size & (size - 1) == 0:
        return int(lane.value) & (WARP - 1) < size  # lane ^ m < size for every lane < size
    return False


def _source_thread(shuffle: _Shuffle, tid, launch: _Launch):
    """The linear index of the thread whose value ``tid`` receives (PTX ``shfl.sync``'s lane rules)."""
    lane = tirx.floormod(tid, WARP)
    width = Analyzer().simplify(_int32(shuffle.width))
    if isinstance(width, tirx.IntImm):  # fold CUDA's c = ((32 - width) << 8) | clamp now
        segmask = (WARP - int(width.value)) & (WARP - 1)
        inv = segmask ^ (WARP - 1)
        min_lane = lane & segmask if segmask else tirx.const(0, "int32")
    else:
        segmask = tirx.bitwise_and(WARP - width, WARP - 1)  # c[12:8]
        inv = tirx.bitwise_xor(segmask, WARP - 1)  # ~segmask in 5 bits
        min_lane = tirx.bitwise_and(lane, segmask)
    clamp = 0 if shuffle.mode == "up" else WARP - 1
    max_lane = min_lane | (clamp & inv) if isinstance(inv, int) else \
        tirx.bitwise_or(min_lane, tirx.bitwise_and(tirx.const(clamp, "int32"), inv))
    b = Analyzer().simplify(tirx.bitwise_and(_int32(shuffle.lane), WARP - 1))
    if shuffle.mode == "idx":
        j = tirx.bitwise_or(min_lane, tirx.bitwise_and(b, inv))  # always within the segment
    elif shuffle.mode == "up":
        j = tirx.Select(lane - b >= max_lane, lane - b, lane)
    elif shuffle.mode == "down":
        j = tirx.Select(lane + b <= max_lane, lane + b, lane)
    else:
        j = tirx.Select(tirx.bitwise_xor(lane, b) <= max_lane, tirx.bitwise_xor(lane, b), lane)
    analyzer = Analyzer()
    for var, extent in launch.threads:
        analyzer.bind(var, Range.from_min_extent(0, extent))
    return analyzer.simplify(tid - lane + j)


def _int32(x):
    return x if str(x.ty) == "int32" else tirx.Cast("int32", x)


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.LowerWarpShuffleCPU")
@keep_tiledsl_errors
def LowerWarpShuffleCPU(func, mod, ctx):  # noqa: N802 - a pass, named like TVM's
    """Replace each warp shuffle with a per-block scratch tile written and read in two statements."""
    if not _contains_shuffle(func.body):
        return func
    return func.with_body(_Lowering(func).rewrite(func.body, None, None))
