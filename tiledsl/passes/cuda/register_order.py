"""Copies between an accumulator fragment and a flat global workspace in the fragment's register order.

Split-K's parts hand their partial sums to the part that sums them through a global workspace (``split_k.py``).
Stored in the output's layout, a wgmma or mma.sync accumulator is written two floats at a time with a row stride
between lanes: a warp's store touches 8 rows (8 sectors for 256 bytes), and the summing part's loads did the same,
one float at a time. In register order (thread ``t``'s registers ``2o, 2o + 1`` at ``(o * T + t) * 2``, ``T`` the
threads holding the fragment) a warp's two-float store or load covers 256 contiguous bytes. Both sides are the same
kernel with the same fragment layout, so the order needs no layout of its own. A copy marked ``register_order``
(made by ``split_k.py``; ``accumulate``: the workspace's values are added to the fragment, read past L1) is lowered
here, by LowerTileOpsCUDA.

The flat side may also be a shared buffer (split-K's cluster form): a copy into it marked ``rank`` stores into that
block of the thread-block cluster (distributed shared memory, ``__cluster_map_shared_rank``), and an ``accumulate``
copy from it adds plain shared loads. Both go through helper calls on the buffer's pointer and the element's
offset, which TVM's barrier placement does not count as accesses: the cluster barrier between them
(``split_k.py``) orders them.
"""
from __future__ import annotations

from tvm import tirx
from tvm.script import tirx as T

from ..tile_lowering_utils import const_ints
from .layout import numel

REGISTER_ORDER_ATTR = "register_order"
ACCUMULATE_ATTR = "accumulate"
RANK_ATTR = "rank"  # a copy into a shared buffer: the cluster block whose buffer it writes
#: the name ending of split-K's cluster slots: shared buffers only these copies touch (through helper calls that
#: TVM's barrier placement does not see), ordered by the cluster barrier, which warp specialization allows outside
#: its loop
CLUSTER_SLOTS_SUFFIX = "__tiledsl_cluster_slots"  # no name a program would choose
PAIR = 2  # registers per access: the accumulators' layouts hold columns in pairs

_ADD_SOURCE = """__forceinline__ __device__ void tiledsl_add_pair_cg(float* acc, const float* partial) {
  float2 v = __ldcg(reinterpret_cast<const float2*>(partial));
  acc[0] += v.x;
  acc[1] += v.y;
}
"""
_SHARED_ADD_SOURCE = """__forceinline__ __device__ void tiledsl_add_pair_shared(float* acc, const float* slots,
                                                        int at) {
  float2 v = *reinterpret_cast<const float2*>(slots + at);
  acc[0] += v.x;
  acc[1] += v.y;
}
"""
_PUT_RANK_SOURCE = """__forceinline__ __device__ void tiledsl_put_pair_rank(float* slots, int at, float a, float b,
                                                      unsigned rank) {
  *reinterpret_cast<float2*>(__cluster_map_shared_rank(slots + at, rank)) = make_float2(a, b);
}
"""


def is_cluster_slots(buf) -> bool:
    """True for a shared buffer of split-K's cluster form (:data:`CLUSTER_SLOTS_SUFFIX`)."""
    return str(buf.name).endswith(CLUSTER_SLOTS_SUFFIX)


def is_register_order_copy(call) -> bool:
    """True for a tile copy marked to move a fragment in its register order."""
    return call.attrs is not None and REGISTER_ORDER_ATTR in call.attrs


def lower(lowerer, call):
    """The copy's per-thread statements: fragment -> workspace (two-float stores; into a cluster block's shared
    buffer with ``rank``) or workspace -> fragment (``accumulate``: two-float loads, past L1 from global memory,
    added to the registers)."""
    src, dst = call.args
    frag, flat = (src, dst) if lowerer._fragment_layout(src.source) is not None else (dst, src)
    layout = lowerer._fragment_layout(frag.source)
    accumulate = ACCUMULATE_ATTR in call.attrs
    if layout is None or frag is not (dst if accumulate else src):
        raise ValueError(f"register-order copy of {frag.source.name}: not a distributed fragment")
    elements = numel(const_ints(list(frag.source.ty.shape), "register-order copy"))
    threads = getattr(layout, "nthreads", lowerer.nthreads)
    if layout.local_size * threads != elements or layout.local_size % PAIR or layout.valid(lowerer.tid, 0) is not None \
            or layout.replica_guard(lowerer.tid) is not None or str(frag.source.ty.dtype) != "float32":
        raise ValueError(f"register-order copy of {frag.source.name}: its layout {layout.describe()} does not hold "
                         "each float32 element once")
    base = [r.min for r in flat.region]
    local = lowerer.locals[frag.source]
    outer, lane = tirx.Var("r", "int32"), tirx.Var("v", "int32")
    at = base[:-1] + [base[-1] + (outer * threads + lowerer.tid) * PAIR]
    shared = str(flat.source.scope()) in ("shared", "shared.dyn")
    if shared and len(at) != 1:
        raise ValueError(f"register-order copy with {flat.source.name}: a shared buffer must be one-dimensional")
    # a shared buffer goes to the helpers whole, with the element's offset: TVM's buffer compaction (left out of
    # our builds: codegen/compile.DISABLED_TVM_PASSES) takes an ``address_of`` for one element
    if accumulate and shared:
        body = tirx.Evaluate(T.cuda.func_call(
            "tiledsl_add_pair_shared", tirx.address_of(tirx.BufferLoad(local, [outer * PAIR])), flat.source.data,
            at[0], source_code=_SHARED_ADD_SOURCE))
    elif accumulate:
        body = tirx.Evaluate(T.cuda.func_call("tiledsl_add_pair_cg", tirx.address_of(tirx.BufferLoad(
            local, [outer * PAIR])), tirx.address_of(tirx.BufferLoad(flat.source, at)), source_code=_ADD_SOURCE))
    elif RANK_ATTR in call.attrs:
        if not shared:
            raise ValueError(f"register-order copy into {flat.source.name}: a cluster rank needs a shared buffer")
        pair = [tirx.BufferLoad(local, [outer * PAIR + v]) for v in range(PAIR)]
        body = tirx.Evaluate(T.cuda.func_call(
            "tiledsl_put_pair_rank", flat.source.data, at[0], *pair,
            tirx.const(int(call.attrs[RANK_ATTR]), "uint32"), source_code=_PUT_RANK_SOURCE))
    else:
        store = tirx.BufferStore(flat.source, tirx.BufferLoad(local, [outer * PAIR + lane]),
                                 at[:-1] + [at[-1] + lane])
        body = tirx.For(lane, 0, PAIR, tirx.ForKind.VECTORIZED, store)
    guard = tirx.IfThenElse(lowerer.tid < threads, body, None) if threads < lowerer.nthreads else body
    return tirx.For(outer, 0, layout.local_size // PAIR, tirx.ForKind.UNROLLED, guard)
