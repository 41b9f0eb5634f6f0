"""WarpUniformIndex: warp and warpgroup indices as a value the CUDA compiler knows is the same on every lane.

Warp-specialized and wgmma code indexes shared tiles by warpgroup: the A operand of a consumer warpgroup's wgmma
starts ``threadIdx.x // 128 * 64`` rows into its tile. The wgmma descriptor operand must sit in a uniform register;
nvcc cannot prove ``threadIdx.x // 128`` uniform across a warp, so it computes every descriptor in ordinary
registers and moves it over (``R2UR``) before each wgmma: in flash attention's loop 1.25 moves per wgmma, and the
wgmmas stall on them (Nsight Compute, H100, 2026-12-06: 42 million R2UR, against none in the hand-written kernel,
and 84 % more stall samples at the wgmmas). The hand-written kernels read the warp index once through a broadcast
from lane 0 (``__shfl_sync(~0, threadIdx.x / 32, 0)``), which nvcc does treat as uniform.

The pass does the same for any kernel whose ``threadIdx.x`` extent is a multiple of 32 (and no ``threadIdx.y`` /
``threadIdx.z``) and whose wgmma operands (or named-barrier ids: ping-pong's ``bar.sync 2 + threadIdx.x // 128``)
divide ``threadIdx.x`` by a multiple of 32: ``warp_id = __shfl_sync(0xffffffff, threadIdx.x // 32, 0, 32)`` bound
once at the top of the kernel, where every lane of every warp is converged, and each such ``threadIdx.x // c`` in
those operands rewritten as ``warp_id // (c / 32)``: the same value (``x // 32 // k == x // (32 k)`` for x >= 0).
Only there: TVM's vectorizer relates ``threadIdx.x // 128`` to the thread's other index terms (a staging store's
``half2`` lanes), and an opaque ``warp_id`` in a store index made it store lane by lane. On by default;
``TILEDSL_WARP_UNIFORM_INDEX=0`` switches it off.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call

from ..lowering_options import schedule
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import seq

_THREAD_TAGS = ("threadIdx.x", "threadIdx.y", "threadIdx.z")


def _thread_extents(body) -> dict:
    """thread tag -> (IterVar, extent) of the kernel's thread launches."""
    found = {}

    def on_attr(attr):
        if attr.attr_key == "thread_extent" and attr.node.thread_tag in _THREAD_TAGS:
            found[attr.node.thread_tag] = (attr.node, attr.value)
    tvm_ffi.structural_walk(body, (tirx.AttrStmt, on_attr))
    return found


def _is_warp_division(div, tx) -> bool:
    return div.a.same_as(tx) and isinstance(div.b, tirx.IntImm) and int(div.b) > 0 and int(div.b) % 32 == 0


def _takes_uniform_operands(call) -> bool:
    """wgmma instructions (descriptors) and named barriers (their ids): operands the warp must agree on."""
    name = getattr(call.op, "name", "")
    return "wgmma" in name or name.startswith(("tirx.ptx.bar_sync", "tirx.ptx.bar_arrive"))


def _uniform_operand_divisions(body, tx) -> bool:
    """Whether an operand of a wgmma or a named barrier in ``body`` divides ``threadIdx.x`` by a multiple of 32."""
    seen = []

    def on_call(call):
        if _takes_uniform_operands(call):
            tvm_ffi.structural_walk(call, (tirx.FloorDiv, lambda d: seen.append(d) if _is_warp_division(d, tx)
                                           else None))
    tvm_ffi.structural_walk(body, (Call, on_call))
    return bool(seen)


def _is_thread_launch(stmt) -> bool:
    return isinstance(stmt, tirx.AttrStmt) and stmt.attr_key == "thread_extent"


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.WarpUniformIndex")
@keep_tiledsl_errors
def WarpUniformIndex(func, mod, ctx):
    """Read the warp index once through a lane-0 broadcast and divide it, not ``threadIdx.x`` (see the module doc)."""
    if not schedule("TILEDSL_WARP_UNIFORM_INDEX"):
        return func
    launches = _thread_extents(func.body)
    if "threadIdx.x" not in launches or any(tag in launches for tag in _THREAD_TAGS[1:]):
        return func
    iter_var, extent = launches["threadIdx.x"]
    tx = iter_var.var
    if not isinstance(extent, tirx.IntImm) or int(extent) % 32 or not _uniform_operand_divisions(func.body, tx):
        return func
    warp = tirx.Var("warp_id", str(tx.ty))

    def on_div(div):
        if _is_warp_division(div, tx):
            per_warp = int(div.b) // 32
            return warp if per_warp == 1 else tirx.FloorDiv(warp, tirx.const(per_warp, str(tx.ty)))
        return div

    def on_call(call):
        if not _takes_uniform_operands(call):
            return call
        return tvm_ffi.structural_map(call, [(tirx.FloorDiv, on_div)], order="post")

    def inside_launches(stmt):
        """The kernel body below its chain of launch attributes, with the warp index bound on top."""
        if _is_thread_launch(stmt):
            return tirx.AttrStmt(stmt.node, stmt.attr_key, stmt.value, inside_launches(stmt.body))
        body = tvm_ffi.structural_map(stmt, [(Call, on_call)], order="post")
        lane0 = tirx.call_extern(str(tx.ty), "__shfl_sync", tirx.const(0xFFFFFFFF, "uint32"),
                                 tirx.FloorDiv(tx, tirx.const(32, str(tx.ty))), tirx.const(0, "int32"),
                                 tirx.const(32, "int32"))
        return seq([tirx.Bind(warp, lane0), body])

    def place(stmt):
        if _is_thread_launch(stmt):
            return inside_launches(stmt)
        if isinstance(stmt, tirx.SeqStmt):  # the host code's tensor maps, then the launch
            return seq([place(s) for s in stmt.seq])
        return stmt
    body = place(func.body)
    return func if body.same_as(func.body) else func.with_body(body)
