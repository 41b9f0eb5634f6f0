"""SplitK: a GEMM kernel with few blocks splits its reduction loop across more (``TILEDSL_SPLIT_K``; ``auto``, the
default, on CUDA only).

A skinny GEMM (M = 16 rows of activations against a 4096 x 4096 weight) launches one block per output tile: 32-128
blocks on a 132-SM GPU, each streaming a whole column panel of the weight with a few KB in flight. The loads, not
the tensor cores, set the time. Splitting the k loop into S parts multiplies the blocks by S, so S times as many
bytes are in flight. This is what cuBLAS does for such shapes, and what TileLang's split-K example writes by hand.

Expects the program as the front end builds it, before global workspaces become parameters
(``global_workspaces.py``) and before ``split_grid_sync.py``: ``runtime.compiler.compile`` runs it first (and
builds the program as written when the split one does not build). A kernel qualifies when its body is, at the top
level:

    <allocations>; T.clear(acc) for each accumulator; for k in T.Pipelined(nk, ...): <body>; <epilogue>

where nk is a constant that S divides, the loop's statements write no fragment but the accumulators (float32, or
int32 for 8-bit integer GEMMs), and write those only as the accumulator of a ``T.gemm`` (no other statement of the
loop reads them), write no global memory, and the grid has no ``blockIdx.z``. Then the kernel gets a workspace of
each accumulator's type and shape (S, rows of the grid's tiles, columns) and a grid ``blockIdx.z`` of S; each part
runs nk / S iterations
(k = bz * nk / S + k2) and stores its partial sums. ``TILEDSL_SPLIT_K_SUM`` says who sums them:

* ``launch``: ``T.sync_grid()`` (a second launch), then the blocks of part 0 clear the accumulators, add the S
  partial tiles and run the epilogue; the epilogue may read no on-chip value set before the loop but the
  accumulators (checked by cutting the program as ``split_grid_sync.py`` will; one that fails stays as written).
* ``last``: one launch. Each block stores its partial sums and counts itself in on its tile's counter (an int32
  workspace the runtime keeps zeroed, ``ZEROED_WORKSPACES_ATTR``): a block barrier, then one release-acquire atomic
  add by its first thread (``atom.acq_rel.gpu``; the barrier before it puts every thread's stores under its release,
  the barrier after it every thread's loads under its acquire, the pattern CUTLASS's semaphores use). The block that
  draws the last ticket adds the others' sums to its own and runs the epilogue with its own on-chip state, so an
  epilogue may read any of it; but an epilogue that takes block barriers (a shared tile, a reduction:
  ``_needs_block_barriers``) takes the ``launch`` form, since its barriers would be in a branch on the count. The
  count waits on the program's threads (``TILEDSL_SPLIT_K_GROUP_COUNT``, the default; with it off, a whole-block
  barrier, which costs a warp-specialized loop its producer warpgroup). The epilogue's element loops' reads of
  inputs the kernel never writes (a per-column scale, a bias) whose indices need only the loop and block indices are
  issued by every block before its count, into fragments (``_early_reads``): their latency then overlaps the ticket
  instead of adding to the last part's time (int8-weight GEMM at M = 16: 15.31 -> 14.94 us as a source edit, H100,
  2026-12-07).
* ``cluster`` (sm_90, S <= 8): the S blocks of a tile are one thread-block cluster (``clusterCtaIdx.z``) and the
  barrier is the cluster's; one launch, part 0 sums. Float32 sums in register order (the default) go through part
  0's shared memory, where they fit (CLUSTER_SHARED_BYTES): each other part stores its registers into its own slot
  of part 0's buffer (distributed shared memory), so the sums never cross L2 and no ticket is drawn; the epilogue's
  reads of unwritten inputs are issued before the barrier, as in ``last``. Otherwise through the global workspace.
  An epilogue that takes block barriers takes ``launch`` (its barriers would sit in the branch on the part).
* ``auto`` (the default): ``last`` (with ``TILEDSL_SPLIT_K_GROUP_COUNT=0``: for accumulators of fewer than 64 rows
  only, ``launch`` for the others). int32 accumulators always take ``launch``, the one form whose int32 sums have
  run on a GPU (W8A8, H100, 2026-12-07).

The sums are the same up to float32 rounding order (int32 sums: exactly). ``TILEDSL_SPLIT_K=S`` asks for S parts on
any target; ``auto`` (the default) picks, on CUDA, for grids of at most half the SMs, the largest S <= 8 dividing
nk with at least MIN_ITERATIONS iterations a part and at most WARPS_PER_SM warps per SM over the split grid, and
leaves a program the whole-kernel Hopper GEMM takes to it; ``0`` leaves every program as written. Measurements:
docs/cuda.md.
"""
from __future__ import annotations

import tvm
import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad
from tvm.script import tirx as T

from .. import config
from ..errors import TileProgramError
from ..ir.grid_sync import is_sync_grid, sync_grid_call
from ..ir.ops import is_tile_call, is_tile_statement, make_tile_call, written_buffers
from ..language.buffers import SHARED_SCOPES
from ..language.loops import NUM_STAGES_ATTR, PARALLEL_ATTR
from ..runtime.target import sm_number
from .cuda.async_copy import barrier
from .global_workspaces import hoist_global_workspaces
from .rewriter import flatten_seq, loop_nest, reads_memory, seq, substitute, uses_var
from .split_grid_sync import split_grid_sync
from .tile_lowering_utils import parallel_nest

MAX_PARTS = 8
#: a program's own choice of parts (a function attribute, ``T.func_attr({"tiledsl.split_k": S})``, a tunable
#: parameter of a kernel factory): S parts on any target whatever TILEDSL_SPLIT_K says, 1 for none; the whole-kernel
#: Hopper GEMM reads it too
SPLIT_K_ATTR = "tiledsl.split_k"
ACCUMULATOR_TYPES = ("float32", "int32")
WGMMA_ROWS = 64  # the fewest rows of a wgmma accumulator tile
MAX_CLUSTER = 8  # blocks of a thread-block cluster every sm_90 GPU runs (the portable limit)
#: the most bytes of part 0's static shared buffer for the other parts' sums (static shared memory: 48 KB a block)
CLUSTER_SHARED_BYTES = 40 * 1024
# per part: fewer leave the pipeline little to overlap, and the split's fixed costs (the parts' sums, a loop that
# is not warp-specialized) outweigh its gain: int8-weight M = 16 (16 x 128 x 64 tiles, H100, 2026-12-06) at K = 512
# took 8.7 us whole against 9.5-9.8 us in 2 or 4 parts of 4 iterations; at K = 2048, 4 parts of 8 took 12.7 us
# against 14.9 whole
MIN_ITERATIONS = 8
# ``auto``'s budget of warps per SM across the split grid: measured best on the H100 (2026-12-06) for int8-weight
# M = 16 (16 x 64 tiles on 4 warps: 4 parts, 1024 warps in all; 16 x 128 tiles on 8 warps: 4 parts, not 8, which
# took 20.2 against 16.3 us) and fp16 GEMMs of 8-32 tiles of 64 x 128 on 8 warps (4-8 parts)
WARPS_PER_SM = 8
# names of T.alloc_global workspaces the runtime must hand over zeroed and keep between calls (the kernel leaves
# them zero): the per-tile counters of the ``last`` form
ZEROED_WORKSPACES_ATTR = "tiledsl.zeroed_workspaces"


def _launches(func_body):
    """(thread_extent headers outermost first, the launch body) of a kernel that is one launch, else None."""
    headers, node = [], func_body
    while isinstance(node, tirx.AttrStmt) and node.attr_key == "thread_extent":
        headers.append(node)
        node = node.body
    if not headers or not any(str(h.node.thread_tag) == "threadIdx.x" for h in headers):
        return None
    return headers, node


def _cleared_accumulator(stmt):
    """The fragment a ``T.clear`` / ``T.fill(.., 0)`` of a whole float32 or int32 fragment clears, else None (an
    int32 accumulator: an 8-bit integer GEMM, whose parts' sums are exact in any order)."""
    if not is_tile_statement(stmt, "fill"):
        return None
    region, value = stmt.value.args[:2]
    buf = region.source
    if buf.scope() != "local.fragment" or str(buf.ty.dtype) not in ACCUMULATOR_TYPES:
        return None
    if not (isinstance(value, (tirx.FloatImm, tirx.IntImm)) and float(value.value) == 0.0):
        return None
    whole = all(isinstance(r.min, tirx.IntImm) and int(r.min) == 0 and isinstance(r.extent, tirx.IntImm)
                and isinstance(e, tirx.IntImm) and int(r.extent) == int(e) for r, e in zip(region.region, buf.ty.shape))
    return buf if whole and len(buf.ty.shape) == 2 else None


def _reduction_loop(stmt, accumulators) -> bool:
    """True when the loop body sums into ``accumulators`` through gemms only (see the module docstring)."""
    for s in flatten_seq([stmt.body]):
        gemm = is_tile_statement(s, "gemm")
        if gemm:
            a, b, c = s.value.args[:3]
            if not any(c.source.same_as(acc) for acc in accumulators) or bool(s.value.attrs["clear_accum"]) or \
                    any(a.source.same_as(acc) or b.source.same_as(acc) for acc in accumulators):
                return False
            continue
        written = written_buffers(s)
        if written is None or any(buf.scope() in ("global", "local.fragment", "local") for buf in written):
            return False
        if any(uses_var(s, acc) for acc in accumulators):
            return False
    return True


def _parts(extent: int, ctas: int, warps: int, target_kind: str, arch: str) -> int:
    """How many parts TILEDSL_SPLIT_K asks for a loop of ``extent`` iterations in a grid of ``ctas`` blocks of
    ``warps`` warps. ``auto``: none for grids of more than half the SMs; else the most parts (at most 8, each of at
    least MIN_ITERATIONS iterations) that keep the grid within WARPS_PER_SM warps per SM."""
    from .hopper.device import sm_count

    wanted = config.split_k()
    if wanted == "auto":
        if target_kind != "cuda":
            return 1
        num_sms = sm_count(arch)
        if ctas * 2 > num_sms:
            return 1
        limit = min(MAX_PARTS, extent // MIN_ITERATIONS, max(1, WARPS_PER_SM * num_sms // (ctas * warps)))
        return max([d for d in range(1, limit + 1) if extent % d == 0] or [1])
    return wanted if wanted > 1 and extent % wanted == 0 else 1


def requested_parts(func) -> int | None:
    """The parts a program asks for with its ``tiledsl.split_k`` attribute (None: not given)."""
    attrs = func.attrs
    if attrs is None or SPLIT_K_ATTR not in attrs:
        return None
    value = attrs[SPLIT_K_ATTR]
    if not isinstance(value, (int, tirx.IntImm)) or isinstance(value, bool) or not 1 <= int(value) <= 64:
        raise TileProgramError(f"{SPLIT_K_ATTR} must be an int from 1 to 64 (parts of the reduction loop), got "
                               f"{value!r}")
    return int(value)


def _has_grid_sync(stmts) -> bool:
    """True when a ``T.sync_grid()`` is among ``stmts`` (an epilogue that already spans launches)."""
    found = []
    for stmt in stmts:
        tvm_ffi.structural_walk(stmt, (tirx.Evaluate, lambda s: found.append(s) if is_sync_grid(s) else None))
    return bool(found)


def _taken_by_hopper_gemm(func, target_kind: str, arch: str) -> bool:
    """True when the whole-kernel Hopper GEMM will replace ``func`` as written (sm_90a, not switched off): it splits
    K its own way, so the program is left for it."""
    if target_kind != "cuda" or arch != "sm_90a" or config.hopper_specialization_disabled():
        return False
    from .hopper.device import sm_count
    from .hopper.gemm_match import match_gemm

    return match_gemm(func, sm_count(arch)) is not None


def _has_clusters(target_kind: str, arch: str) -> bool:
    """True for CUDA targets of sm_90 or newer (thread-block clusters, ``barrier.cluster``)."""
    return target_kind == "cuda" and (sm_number(arch) or 0) >= 90


def split_k(func: tirx.PrimFunc, target_kind: str, arch: str = "") -> tirx.PrimFunc:
    """``func`` with its reduction loop split across ``blockIdx.z`` (see the module docstring), or ``func`` itself
    when TILEDSL_SPLIT_K is off or the program does not qualify (``arch``: the CUDA target's, for ``auto``'s SM
    count and whether the cluster form applies). A program's ``tiledsl.split_k`` attribute overrides TILEDSL_SPLIT_K."""
    requested = requested_parts(func)
    wanted = config.split_k()
    if requested == 1 or requested is None and (wanted in (0, 1) or wanted == "auto" and target_kind != "cuda"):
        return func
    found = _launches(func.body)
    if found is None:
        return func
    headers, body = found
    tags = [str(h.node.thread_tag) for h in headers]
    if "blockIdx.z" in tags or not all(isinstance(h.value, tirx.IntImm) for h in headers):
        return func
    stmts = flatten_seq([body])
    loops = [k for k, s in enumerate(stmts) if isinstance(s, tirx.For) and s.annotations is not None
             and NUM_STAGES_ATTR in s.annotations]
    if len(loops) != 1 or not isinstance(stmts[loops[0]].extent, tirx.IntImm):
        return func
    at = loops[0]
    loop = stmts[at]
    accumulators, k = [], at - 1
    while k >= 0 and _cleared_accumulator(stmts[k]) is not None:
        accumulators.append(_cleared_accumulator(stmts[k]))
        k -= 1
    if not accumulators or not _reduction_loop(loop, accumulators) or _has_grid_sync(stmts[at + 1:]):
        return func
    ctas = 1
    for h, tag in zip(headers, tags):
        if tag.startswith("blockIdx"):
            ctas *= int(h.value)
    extent = int(loop.extent)
    warps = max(1, next(int(h.value) for h, tag in zip(headers, tags) if tag == "threadIdx.x") // 32)
    if requested is not None and extent % requested:
        raise TileProgramError(f"{SPLIT_K_ATTR}={requested} does not divide the {extent} iterations of the "
                               f"pipelined loop")
    parts = requested if requested is not None else _parts(extent, ctas, warps, target_kind, arch)
    if parts <= 1 or _taken_by_hopper_gemm(func, target_kind, arch):
        return func
    form = _sum_form(target_kind, arch, parts, accumulators)
    if form in ("last", "cluster") and _needs_block_barriers(stmts[at + 1:]):
        form = "launch"
    split = _rewrite(func, headers, stmts, at, accumulators, parts, form)
    if form != "launch":
        return split
    try:  # the epilogue may read on-chip state set before the loop, which the second launch would not have
        split_grid_sync(hoist_global_workspaces(split)[0])
    except TileProgramError:
        return func
    return split


def _sum_form(target_kind: str, arch: str, parts: int, accumulators) -> str:
    """How the parts are summed: TILEDSL_SPLIT_K_SUM where the target supports it, else ``launch``; ``auto`` takes
    ``last`` (H100, skinny fp16 GEMMs on wgmma: 16 rows 24.35 -> 23.07 us, 128 rows 26.64 -> 24.18 us against
    ``launch``), unless the count of finished parts takes a whole-block barrier (``TILEDSL_SPLIT_K_GROUP_COUNT=0``):
    then ``last`` for accumulators of fewer than 64 rows only (mma.sync: no producer warpgroup to lose) and
    ``launch`` for the others (wgmma loops, warp-specialized, which the whole-block count would prevent)."""
    wanted = config.split_k_sum()
    if any(str(acc.ty.dtype) == "int32" for acc in accumulators):
        return "launch"  # the form whose int32 sums have run on a GPU (2026-12-07); the others not yet
    if wanted == "auto":
        whole_block = not config.schedule_enabled("TILEDSL_SPLIT_K_GROUP_COUNT")
        wanted = "launch" if whole_block and any(int(acc.ty.shape[0]) >= WGMMA_ROWS for acc in accumulators) \
            else "last"
    if target_kind != "cuda" or wanted == "cluster" and not (_has_clusters(target_kind, arch) and parts <= MAX_CLUSTER):
        return "launch"
    return wanted


def _needs_block_barriers(epilogue) -> bool:
    """Whether the epilogue's lowering takes barriers among the block's threads: it uses a shared tile (TileLang's
    GEMM examples stage the result through one) or reduces (a cross-warp scratch). The ``last`` form runs the
    epilogue in a branch on the count's answer, which TVM's barrier placement cannot prove the same on every
    thread ("Cannot insert syncs inside condition"), so such a program takes the ``launch`` form (the
    ``cluster`` form's epilogue sits in a branch on the part, likewise)."""
    found = []

    def on_var(v):
        ty = getattr(v, "ty", None)
        if isinstance(ty, tirx.BufferType) and ty.storage_scope in SHARED_SCOPES:
            found.append(v)

    def on_call(call):
        if is_tile_call(call, "reduce"):
            found.append(call)
    tvm_ffi.structural_walk(seq(list(epilogue)), [(tirx.Var, on_var), (tvm.ir.Call, on_call)])
    return bool(found)


def _tile_origin(headers, acc):
    """(row, column) of this block's output tile: blockIdx.y / blockIdx.x times the accumulator's extents."""
    by = next((h.node.var for h in headers if str(h.node.thread_tag) == "blockIdx.y"), None)
    bx = next((h.node.var for h in headers if str(h.node.thread_tag) == "blockIdx.x"), None)
    rows, cols = (int(e) for e in acc.ty.shape)
    zero = tirx.const(0, "int32")
    return (by * rows if by is not None else zero), (bx * cols if bx is not None else zero)


_CLUSTER_BARRIER_SOURCE = """__forceinline__ __device__ void tiledsl_cluster_barrier() {
  asm volatile("barrier.cluster.arrive.release;" ::: "memory");
  asm volatile("barrier.cluster.wait.acquire;" ::: "memory");
}
"""


def _cluster_barrier():
    """``barrier.cluster.arrive.release`` then ``.wait.acquire``, every thread of every block of the cluster (as
    asm the compiler moves no memory access across: TVM's own ``cluster_sync`` has no memory clobber)."""
    return tirx.Evaluate(T.cuda.func_call("tiledsl_cluster_barrier", source_code=_CLUSTER_BARRIER_SOURCE))


def _cluster_shared_sums(acc, parts, bz, spills, gathers, allocations):
    """The cluster form's partial sums of ``acc`` through part 0's shared memory, in register order: a static
    shared buffer of parts - 1 slots of its elements in every block, part ``p`` > 0 storing its registers into slot
    ``p - 1`` of part 0's (rank 0 of the cluster: the cluster runs along z, so a block's rank is its part), part 0
    adding the slots after the cluster barrier, in one unrolled loop (``cuda/register_order.py``)."""
    from .cuda.register_order import ACCUMULATE_ATTR, CLUSTER_SLOTS_SUFFIX, RANK_ATTR, REGISTER_ORDER_ATTR

    rows, cols = (int(e) for e in acc.ty.shape)
    size = rows * cols  # one flat dimension: the helpers take the buffer and a flat offset
    slots = tirx.decl_buffer(((parts - 1) * size,), "float32", acc.name + CLUSTER_SLOTS_SUFFIX, scope="shared")
    allocations.append(tirx.AllocBuffer(slots))
    whole = acc[0:rows, 0:cols]
    put = make_tile_call("copy", [whole, slots[(bz - 1) * size:bz * size]], **{REGISTER_ORDER_ATTR: 1, RANK_ATTR: 0})
    spills.append(tirx.IfThenElse(bz != 0, tirx.Evaluate(put), None))
    other = tirx.Var("other", "int32")
    add = make_tile_call("copy", [slots[other * size:(other + 1) * size], whole],
                         **{REGISTER_ORDER_ATTR: 1, ACCUMULATE_ATTR: 1})
    gathers.append(tirx.For(other, 0, parts - 1, tirx.ForKind.UNROLLED, tirx.Evaluate(add)))


def _cluster_fits_shared(accumulators, parts) -> bool:
    """Whether the other parts' float32 sums of every accumulator fit CLUSTER_SHARED_BYTES."""
    total = 0
    for acc in accumulators:
        rows, cols = (int(e) for e in acc.ty.shape)
        total += (parts - 1) * rows * cols * 4
    return all(str(acc.ty.dtype) == "float32" for acc in accumulators) and total <= CLUSTER_SHARED_BYTES


_TICKET_SOURCE = """__forceinline__ __device__ int tiledsl_split_k_ticket(int* counter) {
  int old;
  asm volatile("atom.acq_rel.gpu.global.add.s32 %0, [%1], 1;" : "=r"(old) : "l"(counter) : "memory");
  return old;
}
"""


def _ticket(slot):
    """A block's ticket: its first thread's release-acquire add of 1 to its tile's counter (the old value).
    Release: the partial sums every thread stored before the block barrier are seen by whichever block reads the
    count after it; acquire: the others' sums, once seen counted, are seen by this block's loads after the next
    barrier. Two ``__threadfence`` per thread (``fence.sc.gpu``) did this before: the int8-weight GEMM at M = 16
    spent 1.2 us from its loop's end to its ticket and 2.8 us in the last part's sum (H100, 2026-12-07)."""
    return T.cuda.func_call("tiledsl_split_k_ticket", slot, source_code=_TICKET_SOURCE, return_type="int32")


#: the named barrier of the last-part form's count (0 is __syncthreads; 1-4 and 2 + warpgroup are taken elsewhere)
COUNT_BARRIER = 12
_ANY_SOURCE = f"""__forceinline__ __device__ int tiledsl_split_k_any(int flag, int threads) {{
  int out;
  asm volatile("{{\\n .reg .pred p, q;\\n setp.ne.s32 p, %1, 0;\\n bar.red.or.pred q, {COUNT_BARRIER}, %2, p;\\n"
               " selp.s32 %0, 1, 0, q;\\n}}" : "=r"(out) : "r"(flag), "r"(threads) : "memory");
  return out;
}}
"""


def _count_barriers(headers):
    """(the barrier before the count, the reduction that shares thread 0's answer): ``__syncthreads`` /
    ``__syncthreads_or``; with ``TILEDSL_SPLIT_K_GROUP_COUNT=1`` (the default) the program's threads only, on
    :data:`COUNT_BARRIER` (``bar.sync`` / ``bar.red.or``, the same memory ordering among them as
    ``__syncthreads``), where they are whole warps of threadIdx.x: the loop may then be warp-specialized, its
    producer warpgroup running past the loop's end without them, so wgmma tiles sum their parts in one launch."""
    tags = {str(h.node.thread_tag): h for h in headers}
    threads = int(tags["threadIdx.x"].value) if "threadIdx.x" in tags else 0
    if not config.schedule_enabled("TILEDSL_SPLIT_K_GROUP_COUNT") or not threads or threads % 32 or \
            "threadIdx.y" in tags or "threadIdx.z" in tags:
        return barrier(), lambda flag: tirx.call_extern("int32", "__syncthreads_or", flag)
    sync = tirx.Evaluate(T.ptx.bar.sync(T.uint32(COUNT_BARRIER), T.uint32(threads)))
    return sync, lambda flag: T.cuda.func_call("tiledsl_split_k_any", flag, tirx.const(threads, "int32"),
                                               source_code=_ANY_SOURCE, return_type="int32")


def _tile_index(headers):
    """This block's output tile, numbered row-major over the grid (blockIdx.y, blockIdx.x)."""
    tags = {str(h.node.thread_tag): h for h in headers}
    tile = tirx.const(0, "int32")
    if "blockIdx.y" in tags:
        tile = tags["blockIdx.y"].node.var * (int(tags["blockIdx.x"].value) if "blockIdx.x" in tags else 1)
    if "blockIdx.x" in tags:
        tile = tile + tags["blockIdx.x"].node.var
    return tile


def _register_order_sums(acc, parts, tiles, tile, bz, spills, gathers, workspaces):
    """The last-part form's partial sums of ``acc`` in its register order: a workspace (parts, tiles, elements),
    each part's copy into its row, the last part's adds of the others' rows (``cuda/register_order.py``)."""
    from .cuda.register_order import ACCUMULATE_ATTR, REGISTER_ORDER_ATTR

    rows, cols = (int(e) for e in acc.ty.shape)
    ws = tirx.decl_buffer((parts, tiles, rows * cols), "float32", f"{acc.name}_split_k", scope="global")
    workspaces.append(tirx.AllocBuffer(ws))
    whole = acc[0:rows, 0:cols]
    spills.append(tirx.Evaluate(make_tile_call("copy", [whole, ws[bz:bz + 1, tile:tile + 1, 0:rows * cols]],
                                               **{REGISTER_ORDER_ATTR: 1})))
    s = tirx.Var("part", "int32")
    add = tirx.Evaluate(make_tile_call("copy", [ws[s:s + 1, tile:tile + 1, 0:rows * cols], whole],
                                       **{REGISTER_ORDER_ATTR: 1, ACCUMULATE_ATTR: 1}))
    gathers.append(_over_other_parts(s, parts, bz, add))


def _over_other_parts(s, parts, bz, body):
    """``body`` for every part ``s`` but ``bz``: ``for s: if s != bz: body``, or with ``TILEDSL_SPLIT_K_FLAT_GATHER``
    an unrolled loop over ``parts - 1`` values that skips ``bz`` with no branch, so every part's loads can be in
    flight together (behind the branch they go one part after another)."""
    if not config.schedule_enabled("TILEDSL_SPLIT_K_FLAT_GATHER"):
        return tirx.For(s, 0, parts, tirx.ForKind.SERIAL, tirx.IfThenElse(s != bz, body, None))
    other = tirx.Var("other", "int32")
    index = other + tirx.Select(other >= bz, tirx.const(1, "int32"), tirx.const(0, "int32"))
    return tirx.For(other, 0, parts - 1, tirx.ForKind.UNROLLED, substitute(body, {s: index}))


def _last_arrival(headers, tile, counter, parts):
    """(statements before, the flag, its value, statements in the last block): every block of a tile (its index
    ``tile``, :func:`_tile_index`) counts itself in at ``counter[tile]`` once its partial sums are written; the
    flag is set in the block that counts last (a barrier reduction shares the answer of thread 0, which did the
    ``atomicAdd``), which takes the launch's counts back off the counter for the next launch."""
    tags = {str(h.node.thread_tag): h for h in headers}
    first = None  # thread (0, 0, 0) of the block: the one that counts it in
    for tag in ("threadIdx.x", "threadIdx.y", "threadIdx.z"):
        if tag in tags:
            is_zero = tags[tag].node.var == 0
            first = is_zero if first is None else tirx.And(first, is_zero)
    slot = tirx.address_of(tirx.BufferLoad(counter, [tile]))
    ticket = _ticket(slot)
    # the parts of a launch draw the tickets v .. v + parts - 1: exactly one is parts - 1 modulo parts, whatever v
    # is, so a counter that is not zero (overwritten by mistake) still finds one last part per tile and launch
    is_last = tirx.floormod(ticket, parts) == parts - 1
    mine = tirx.if_then_else(first, tirx.Cast("int32", is_last), tirx.const(0, "int32"))
    last = tirx.Var("last_part", "int32")
    sync, any_of = _count_barriers(headers)
    arrive = [sync]  # every thread's partial sums are stored before thread 0 counts the block
    back = tirx.Evaluate(tirx.call_extern("int32", "atomicAdd", slot, tirx.const(-parts, "int32")))
    # the counter as this launch found it; a relaxed add: the next launch is ordered after this one anyway
    reset = tirx.IfThenElse(first, back, None)
    return arrive, last, any_of(mine), [reset]


# at most this many prefetched elements per thread (registers held from before the ticket to the epilogue)
MAX_EARLY_PER_THREAD = 32


def _parallel_nest(stmt):
    """(loop vars, extents, innermost store) of a ``T.Parallel`` nest from 0 with constant extents whose innermost
    body is one store, else None."""
    loops, inner = parallel_nest(stmt)
    if not loops or not isinstance(inner, tirx.BufferStore) or not all(
            isinstance(f.min, tirx.IntImm) and int(f.min) == 0 and isinstance(f.extent, tirx.IntImm) for f in loops):
        return None
    return [f.loop_var for f in loops], [int(f.extent) for f in loops], inner


def _early_reads(func, headers, epilogue, threads: int, accumulators):
    """(prefetch statements, the epilogue with their reads replaced): each read, in an epilogue's ``T.Parallel``
    nest over an accumulator's shape, of a global parameter no statement of the kernel writes, at indices of the
    nest's and the launch's variables only, is copied by the same nest into a fragment before the ticket (every
    block runs it, so the loads' latency overlaps the count) and the epilogue reads the fragment, which takes the
    accumulator's layout. Reads of a nest under a branch or after a binding stay as they are; so do those that
    would take a thread past MAX_EARLY_PER_THREAD registers."""
    shapes = [[int(e) for e in acc.ty.shape] for acc in accumulators]
    written = written_buffers(func.body)
    if written is None:
        return [], epilogue
    inputs = [p for p in func.params if not any(p.same_as(w) for w in written)]
    launch_vars = [h.node.var for h in headers]
    prefetch, out, held, names = [], [], 0, set()
    for stmt in epilogue:
        nest = _parallel_nest(stmt)
        if nest is None:
            out.append(stmt)
            continue
        loop_vars, extents, store = nest
        if extents not in shapes:
            out.append(stmt)
            continue
        found = []

        def on_load(load, loop_vars=loop_vars, found=found):
            if any(load.source.same_as(p) for p in inputs) and str(load.source.scope()) == "global" and all(
                    _only_vars(index, loop_vars + launch_vars) for index in load.indices):
                if not any(tvm_ffi.structural.structural_equal(load, seen) for seen in found):
                    found.append(load)
        tvm_ffi.structural_walk(store.value, (TensorLoad, on_load))
        size = 1
        for e in extents:
            size *= e
        if not found or held + len(found) * max(1, size // threads) > MAX_EARLY_PER_THREAD:
            out.append(stmt)
            continue
        held += len(found) * max(1, size // threads)
        early = []
        for load in found:
            name = f"{load.source.name}_early"
            name += str(len(names)) if name in names else ""
            names.add(name)
            frag = tirx.decl_buffer(tuple(extents), str(load.dtype), name, scope="local.fragment")
            prefetch += [tirx.AllocBuffer(frag), loop_nest(
                extents, lambda vs, load=load, frag=frag: tirx.BufferStore(
                    frag, substitute(load, dict(zip(loop_vars, vs))), list(vs)),
                kind=tirx.ForKind.PARALLEL, names=[v.name for v in loop_vars], annotations={PARALLEL_ATTR: 1})]
            early.append((load, tirx.BufferLoad(frag, list(loop_vars))))

        def on_read(load, early=early):
            for old, new in early:
                if tvm_ffi.structural.structural_equal(load, old):
                    return new
            return load
        out.append(tvm_ffi.structural_map(stmt, (TensorLoad, on_read), order="post"))
    return prefetch, out


def _only_vars(expr, allowed) -> bool:
    """True when every variable of ``expr`` is one of ``allowed`` (and it reads no memory)."""
    seen = []
    tvm_ffi.structural_walk(expr, (tirx.Var, seen.append))
    return not reads_memory(expr) and all(any(v.same_as(a) for a in allowed) for v in seen)



def _rewrite(func, headers, stmts, at, accumulators, parts, form):
    loop = stmts[at]
    chunk = int(loop.extent) // parts
    bz = tirx.Var("bz_split", "int32")
    z_header = tirx.IterVar(tvm.ir.Range(0, parts), bz, headers[0].node.iter_type, "blockIdx.z")
    k2 = tirx.Var(loop.loop_var.name + "_part", str(loop.loop_var.ty))
    inner = substitute(loop.body, {loop.loop_var: loop.min + bz * chunk + k2})
    part_loop = tirx.For(k2, 0, chunk, loop.kind, inner, loop.thread_binding, loop.annotations)
    grid_rows = {h.node.thread_tag: int(h.value) for h in headers}
    spills, gathers, workspaces = [], [], []
    # the last part's form may pass the partial sums in the fragments' register order (cuda/register_order.py):
    # the parts and the summing part are one kernel, so they hold the fragments alike (not so across launches)
    ordered = form == "last" and config.schedule_enabled("TILEDSL_SPLIT_K_REGISTER_ORDER") and \
        all(str(acc.ty.dtype) == "float32" for acc in accumulators)
    # the cluster form's sums through part 0's shared memory, in register order likewise
    on_chip = form == "cluster" and config.schedule_enabled("TILEDSL_SPLIT_K_REGISTER_ORDER") and \
        _cluster_fits_shared(accumulators, parts)
    allocations = []
    tiles, tile = grid_rows.get("blockIdx.y", 1) * grid_rows.get("blockIdx.x", 1), _tile_index(headers)
    for acc in accumulators:
        rows, cols = (int(e) for e in acc.ty.shape)
        if ordered:
            _register_order_sums(acc, parts, tiles, tile, bz, spills, gathers, workspaces)
            continue
        if on_chip:
            _cluster_shared_sums(acc, parts, bz, spills, gathers, allocations)
            continue
        shape = (parts, rows * grid_rows.get("blockIdx.y", 1), cols * grid_rows.get("blockIdx.x", 1))
        ws = tirx.decl_buffer(shape, str(acc.ty.dtype), f"{acc.name}_split_k", scope="global")
        workspaces.append(tirx.AllocBuffer(ws))
        r0, c0 = _tile_origin(headers, acc)
        spills.append(tirx.Evaluate(make_tile_call("copy", [acc[0:rows, 0:cols],
                                                            ws[bz:bz + 1, r0:r0 + rows, c0:c0 + cols]])))
        s = tirx.Var("part", "int32")
        i, j = tirx.Var("i", "int32"), tirx.Var("j", "int32")
        partial = tirx.BufferLoad(ws, [s, r0 + i, c0 + j])
        if form == "last":  # past L1: another block of this SM may have cached the line before it was written
            partial = tirx.call_extern(str(acc.ty.dtype), "__ldcg", tirx.address_of(partial))
        add = tirx.BufferStore(acc, tirx.BufferLoad(acc, [i, j]) + partial, [i, j])
        nest = tirx.For(i, 0, rows, tirx.ForKind.PARALLEL, tirx.For(j, 0, cols, tirx.ForKind.PARALLEL, add, None,
                                                                      {PARALLEL_ATTR: 1}), None, {PARALLEL_ATTR: 1})
        if form == "last":  # the last block adds the others' partial sums to its own
            gathers.append(_over_other_parts(s, parts, bz, nest))
        else:
            gathers += [tirx.Evaluate(make_tile_call("fill", [acc[0:rows, 0:cols], tirx.const(0, str(acc.ty.dtype))])),
                        tirx.For(s, 0, parts, tirx.ForKind.SERIAL, nest)]
    epilogue = stmts[at + 1:]
    threads = 1
    for h in headers:
        threads *= int(h.value) if str(h.node.thread_tag).startswith("threadIdx") else 1
    if form == "last":
        counter = tirx.decl_buffer((tiles,), "int32", f"{accumulators[0].name}_split_k_count", scope="global")
        workspaces.append(tirx.AllocBuffer(counter))
        arrive, last, count, reset = _last_arrival(headers, tile, counter, parts)
        prefetch, epilogue = _early_reads(func, headers, epilogue, threads, accumulators)
        finish = [tirx.Bind(last, count), tirx.IfThenElse(last != 0, seq(reset + gathers + epilogue), None)]
        body = seq(list(stmts[:at]) + [part_loop] + spills + prefetch + arrive + finish)
        func = func.with_attr(ZEROED_WORKSPACES_ATTR, [counter.name])
    else:  # part 0 sums after a barrier: the cluster's (every part reads the epilogue's inputs before it, as in
        # ``last``) or the grid's (a second launch, which would not have such reads)
        prefetch = []
        if form == "cluster":
            prefetch, epilogue = _early_reads(func, headers, epilogue, threads, accumulators)
        barrier = _cluster_barrier() if form == "cluster" else tirx.Evaluate(sync_grid_call())
        phase1 = allocations + list(stmts[:at]) + [part_loop] + spills + prefetch + [barrier]
        body = seq(phase1 + [tirx.IfThenElse(bz == 0, seq(gathers + epilogue), None)])
    # the new blockIdx.z (and the cluster's extent along it) goes right outside threadIdx.x
    out = body
    for h in reversed(headers):
        if str(h.node.thread_tag) == "threadIdx.x":
            out = tirx.AttrStmt(h.node, h.attr_key, h.value, out)
            out = tirx.AttrStmt(z_header, "thread_extent", tirx.const(parts, "int32"), out)
            if form == "cluster":
                rank = tirx.IterVar(tvm.ir.Range(0, parts), tirx.Var("cz_split", "int32"), headers[0].node.iter_type,
                                    "clusterCtaIdx.z")
                out = tirx.AttrStmt(rank, "thread_extent", tirx.const(parts, "int32"), out)
        else:
            out = tirx.AttrStmt(h.node, h.attr_key, h.value, out)
    return func.with_body(seq(workspaces + [out]))
