"""The warp-specialized Hopper flash-attention forward a matched tile program becomes.

Q, K, V, O are [B, S, H, D] fp16; TMA sees each as the 2-d row-major view [B * S, H * D], so the tile of
(b, h, rows s0..s0+R) is the box at (column h * D + 64 c, row b * S + s0), c < D / 64 (one 128-byte swizzle row
per box). One CTA has 1 + BM / 64 warpgroups:

- warpgroup 0, the producer (``setmaxnreg.dec``): one thread loads the Q tile once per tile, then K_j and V_j into
  a 2-slot ring, K and V with their own full/empty mbarriers (K_j+1 can land while V_j is still read);
- warpgroups 1.., the consumers (``setmaxnreg.inc``), 64 Q rows each, FA3's intra-warpgroup overlap:
  S_j = Q K_j^T (``wgmma`` m64nBNk16, both operands from shared memory) is issued together with
  O += P_{j-1} V_{j-1} (``wgmma`` with A = P from registers: the fp32 S accumulator maps one to one onto the fp16
  A fragment), the online softmax of S_j runs while the P V wgmma does, and with two consumers the warpgroups take
  turns on the tensor core (ping-pong through named barriers 1 and 2).

Variants: ``tile`` (one CTA per Q tile; causal tiles launched longest first) and ``persistent`` (one CTA per SM
looping over tiles; the next tile's Q, K_0 and V_0 load during the last P V and the epilogue; causal tiles are
dealt longest first in zig-zag rounds, so every CTA gets about the same number of KV steps);
``tile_nopp`` and ``persistent_nopp`` are the same without ping-pong.

The softmax is the tile program's: ``exp2(s * c - m * c)`` with the program's constant c, row max and row sum kept
per row, O = acc / sum written as fp16. Layout facts (descriptors, register fragments) follow
``shared/notes/hopper-attention/NOTES.md``, where they were checked on an H100.
"""
from __future__ import annotations

import math

from tvm.backend.cuda.lang import SMEMPool
from tvm.script import tirx as T

from .attention_match import AttentionPlan
from .kernel_common import PRODUCER_REGS, PTX_TYPE, SWIZZLE_128B, TMA_LOAD, consumer_registers

_STAGES = 2
VARIANTS = ("tile", "persistent", "tile_nopp", "persistent_nopp")  # _nopp: no ping-pong between the consumers


def default_variant(plan: AttentionPlan) -> str:
    """The variant measured fastest that applies: persistent, unless a non-causal program has one KV tile."""
    return "persistent" if plan.causal or plan.seq_len // plan.block_N >= 2 else "tile"


def attention_smem_bytes(plan: AttentionPlan) -> int:
    q_bytes = plan.block_M * plan.dim * 2
    kv_bytes = plan.block_N * plan.dim * 2
    return q_bytes + 2 * _STAGES * kv_bytes + (2 + 4 * _STAGES) * 8


def make_attention_kernel(plan: AttentionPlan, variant: str | None = None, pingpong: bool | None = None):
    """The PrimFunc (host part with TMA descriptors, then the device kernel) for a matched flash attention."""
    variant = variant or default_variant(plan)
    if variant not in VARIANTS:
        raise ValueError(f"unknown attention variant {variant!r} (one of {VARIANTS})")
    B, H, S, D = plan.batch, plan.heads, plan.seq_len, plan.dim
    BM, BN, CAUSAL = plan.block_M, plan.block_N, plan.causal
    PERSISTENT = variant.startswith("persistent")
    if variant.endswith("_nopp"):
        pingpong = False
    if PERSISTENT and not CAUSAL and S // BN < 2:
        raise ValueError("the persistent variant needs at least two KV tiles")
    NC = BM // 64                      # consumer warpgroups
    PINGPONG = (NC == 2) if pingpong is None else (pingpong and NC == 2)
    THREADS = 128 * (NC + 1)
    CONSUMER_COUNT = consumer_registers(THREADS)  # setmaxnreg.inc after the producer's .dec
    NB = D // 64                       # 64-column boxes per row of Q, K, V
    NQT, NKV = S // BM, S // BN        # Q tiles and KV tiles per (b, h)
    NT = B * H * NQT
    GRID = min(plan.num_sms, NT) if PERSISTENT else NT
    ROUNDS = -(-NT // GRID)
    # causal + persistent: tiles ordered by groups of HG heads, longest Q tiles first within a group (HG heads' K/V
    # stay in L2 while about GRID tiles run), dealt to the CTAs in zig-zag rounds so every CTA sums long and short
    ZIGZAG = CAUSAL and PERSISTENT
    HG = next(g for g in (4, 2, 1) if (B * H) % g == 0)
    NS, NO, NP = BN // 2, D // 2, BN // 4   # S / O fp32 accumulators, fp16x2 P registers per thread
    Q_BOX, KV_BOX = BM * 64, BN * 64   # elements per box
    KV_TILE = NB * KV_BOX
    Q_BYTES, KV_BYTES = NB * Q_BOX * 2, KV_TILE * 2
    ROWS, COLS = B * S, H * D          # the 2-d view TMA reads
    G = plan.groups                    # query heads per K/V head
    HKV = H // G
    COLS_KV = HKV * D
    DT = plan.dtype
    PT = PTX_TYPE[DT]
    C = float(plan.scale)              # the program's exp2 scale (1/sqrt(D) * log2(e))
    WG_S = f"wgmma.mma_async.sync.aligned.m64n{BN}k16.f32.{PT}.{PT}"
    WG_O = f"wgmma.mma_async.sync.aligned.m64n{D}k16.f32.{PT}.{PT}"
    NEG_INF = -math.inf
    STAGES = _STAGES

    def position(tl, bid):
        """The place in the tile order of CTA bid's tl-th tile (zig-zag rounds for causal persistent)."""
        if ZIGZAG:
            return tl * GRID + T.if_then_else(tl % 2 == 0, bid, GRID - 1 - bid)
        return bid + tl * GRID

    def kv_steps(qt):
        """KV tiles that Q tile qt reads (causal: up to the diagonal)."""
        return ((qt + 1) * BM + BN - 1) // BN if CAUSAL else NKV

    def tile_coords(tl, bid):
        """(Q tile, batch * H + head) of CTA bid's tl-th tile."""
        p = position(tl, bid)
        if ZIGZAG:
            within = p % (HG * NQT)
            return NQT - 1 - within // HG, (p // (HG * NQT)) * HG + within % HG
        return (NQT - 1 - p % NQT if CAUSAL else p % NQT), p // NQT   # causal: longest first

    @T.prim_func
    def attention(Q: T.Buffer((B, S, H, D), DT), K: T.Buffer((B, S, HKV, D), DT),
                  V: T.Buffer((B, S, HKV, D), DT), Output: T.Buffer((B, S, H, D), DT)):
        Q_map: T.let[T.handle("tensormap")] = T.tvm_stack_alloca("tensormap", 1)
        T.call_packed("runtime.cuTensorMapEncodeTiled", Q_map, DT, 2, Q.data, COLS, ROWS, COLS * 2, 64, BM,
                      1, 1, 0, SWIZZLE_128B, 3, 0)
        K_map: T.let[T.handle("tensormap")] = T.tvm_stack_alloca("tensormap", 1)
        T.call_packed("runtime.cuTensorMapEncodeTiled", K_map, DT, 2, K.data, COLS_KV, ROWS, COLS_KV * 2, 64, BN,
                      1, 1, 0, SWIZZLE_128B, 3, 0)
        V_map: T.let[T.handle("tensormap")] = T.tvm_stack_alloca("tensormap", 1)
        T.call_packed("runtime.cuTensorMapEncodeTiled", V_map, DT, 2, V.data, COLS_KV, ROWS, COLS_KV * 2, 64, BN,
                      1, 1, 0, SWIZZLE_128B, 3, 0)

        T.device_entry()
        T.attr({"tirx.launch_bounds_min_blocks_per_sm": 1})
        bid = T.cta_id([GRID])
        tx = T.thread_id([THREADS])
        wg = T.warpgroup_id([NC + 1])
        n_tiles = T.meta_var(((ROUNDS - 1) + T.if_then_else(position(ROUNDS - 1, bid) < NT, 1, 0) if ZIGZAG else
                              (NT - bid + GRID - 1) // GRID) if PERSISTENT else 1)

        pool = T.meta_var(SMEMPool())
        Qs = pool.alloc((NB, BM, 64), DT, align=1024)
        Ks = pool.alloc((STAGES, NB, BN, 64), DT, align=1024)
        Vs = pool.alloc((STAGES, NB, BN, 64), DT, align=1024)
        qfull = pool.alloc((1,), "uint64", align=8)
        qempty = pool.alloc((1,), "uint64", align=8)
        kfull = pool.alloc((STAGES,), "uint64", align=8)
        vfull = pool.alloc((STAGES,), "uint64", align=8)
        kempty = pool.alloc((STAGES,), "uint64", align=8)
        vempty = pool.alloc((STAGES,), "uint64", align=8)
        pool.commit()

        if tx == 0:
            T.cuda.trap_when_assert_failed(T.cuda.cvta_generic_to_shared(Qs.ptr_to([0, 0, 0])) % 1024 == 0)
            T.ptx.mbarrier.init.shared.b64(qfull.ptr_to([0]), T.uint32(1))
            T.ptx.mbarrier.init.shared.b64(qempty.ptr_to([0]), T.uint32(NC))
            for s in T.unroll(STAGES):
                T.ptx.mbarrier.init.shared.b64(kfull.ptr_to([s]), T.uint32(1))
                T.ptx.mbarrier.init.shared.b64(vfull.ptr_to([s]), T.uint32(1))
                T.ptx.mbarrier.init.shared.b64(kempty.ptr_to([s]), T.uint32(NC))
                T.ptx.mbarrier.init.shared.b64(vempty.ptr_to([s]), T.uint32(NC))
            T.ptx.fence.proxy.async_.shared__cta()
        T.cuda.cta_sync()

        if wg == 0:
            # ================= producer =================
            T.ptx["setmaxnreg.dec.sync.aligned.u32"](PRODUCER_REGS)
            if tx == 0:
                kv_done = T.alloc_local([1], "int32")     # KV steps of the earlier tiles (ring slot and phase)
                kv_done[0] = 0
                for tl in T.serial(n_tiles):
                    qt, bh = T.meta_var(tile_coords(tl, bid))
                    row0 = T.meta_var((bh // H) * S)           # first row of batch b in the [B*S, H*D] view
                    col0 = T.meta_var((bh % H) * D)            # first column of head h
                    kv_col0 = T.meta_var((bh % H) // G * D)    # ... and of its K/V head
                    n_kv = T.meta_var(kv_steps(qt))
                    if tl > 0:  # both consumers have finished the previous tile's last S = Q K^T
                        T.cuda.mbarrier_wait(qempty.ptr_to([0]), (tl - 1) % 2)
                    T.ptx.mbarrier.arrive.expect_tx.shared.b64(qfull.ptr_to([0]), T.uint32(Q_BYTES))
                    for c in T.unroll(NB):
                        T.ptx[TMA_LOAD](Qs.ptr_to([c, 0, 0]), T.address_of(Q_map), col0 + c * 64, row0 + qt * BM,
                                         qfull.ptr_to([0]))
                    for j in T.serial(n_kv):
                        it = T.meta_var(kv_done[0] + j)        # global kv step (ring slot and phase)
                        s = T.meta_var(it % STAGES)
                        if it >= STAGES:
                            T.cuda.mbarrier_wait(kempty.ptr_to([s]), ((it // STAGES) + 1) % 2)
                        T.ptx.mbarrier.arrive.expect_tx.shared.b64(kfull.ptr_to([s]), T.uint32(KV_BYTES))
                        for c in T.unroll(NB):
                            T.ptx[TMA_LOAD](Ks.ptr_to([s, c, 0, 0]), T.address_of(K_map), kv_col0 + c * 64,
                                             row0 + j * BN, kfull.ptr_to([s]))
                        if it >= STAGES:
                            T.cuda.mbarrier_wait(vempty.ptr_to([s]), ((it // STAGES) + 1) % 2)
                        T.ptx.mbarrier.arrive.expect_tx.shared.b64(vfull.ptr_to([s]), T.uint32(KV_BYTES))
                        for c in T.unroll(NB):
                            T.ptx[TMA_LOAD](Vs.ptr_to([s, c, 0, 0]), T.address_of(V_map), kv_col0 + c * 64,
                                             row0 + j * BN, vfull.ptr_to([s]))
                    kv_done[0] = kv_done[0] + n_kv
        else:
            # ================= consumers =================
            T.ptx["setmaxnreg.inc.sync.aligned.u32"](CONSUMER_COUNT)
            cw = T.meta_var(wg - 1)
            t = T.meta_var(tx % 128)
            acc_s = T.alloc_local([NS], "float32")
            acc_o = T.alloc_local([NO], "float32")
            preg = T.alloc_local([NP], "uint32")
            m_i = T.alloc_local([2], "float32")
            l_i = T.alloc_local([2], "float32")
            alpha = T.alloc_local([2], "float32")
            red = T.alloc_local([1], "float32")
            descQ: T.uint64
            descK: T.uint64
            descV: T.uint64
            # K-major, 128B swizzle (Q, K): LBO unused (1), SBO = 1024 B between 8-row groups (64)
            T.cuda.wgmma.encode_matrix_descriptor(T.address_of(descQ), Qs.ptr_to([0, cw * 64, 0]), 1, 64, SWIZZLE_128B)
            T.cuda.wgmma.encode_matrix_descriptor(T.address_of(descK), Ks.ptr_to([0, 0, 0, 0]), 1, 64, SWIZZLE_128B)
            # MN-major V (trans-b): LBO = the bytes between two 64-column boxes, SBO = 1024 B
            T.cuda.wgmma.encode_matrix_descriptor(T.address_of(descV), Vs.ptr_to([0, 0, 0, 0]),
                                                  KV_BOX * 2 // 16, 64, SWIZZLE_128B)

            @T.inline
            def issue_s(it):
                s = T.meta_var(it % STAGES)
                T.cuda.mbarrier_wait(kfull.ptr_to([s]), (it // STAGES) % 2)
                T.ptx.wgmma.fence.sync.aligned()
                for kk in T.unroll(D // 16):
                    T.ptx[WG_S](*[acc_s[i] for i in range(NS)],
                                descQ + T.Cast("uint64", ((kk // 4) * (Q_BOX * 2) + (kk % 4) * 32) // 16),
                                descK + T.Cast("uint64",
                                               (s * (KV_TILE * 2) + (kk // 4) * (KV_BOX * 2) + (kk % 4) * 32) // 16),
                                kk > 0, 1, 1, 0, 0)
                T.ptx.wgmma.commit_group.sync.aligned()

            @T.inline
            def issue_pv(it):
                s = T.meta_var(it % STAGES)
                T.cuda.mbarrier_wait(vfull.ptr_to([s]), (it // STAGES) % 2)
                for kk in T.unroll(BN // 16):
                    # the A fragment of k-step kk: fp16 pairs of the S accumulators 8kk .. 8kk+7
                    T.ptx[WG_O](*[acc_o[i] for i in range(NO)],
                                preg[4 * kk], preg[4 * kk + 1], preg[4 * kk + 2], preg[4 * kk + 3],
                                descV + T.Cast("uint64", (s * (KV_TILE * 2) + kk * 16 * 128) // 16),
                                True, 1, 1, 1)
                T.ptx.wgmma.commit_group.sync.aligned()

            @T.inline
            def turn_wait():
                # ping-pong: named barrier 1 + cw over 256 threads (mine + the other consumer's arrivals)
                if PINGPONG:
                    T.ptx.bar.sync(T.Cast("uint32", 1 + cw), T.uint32(256))

            @T.inline
            def turn_pass(may_arrive):
                if PINGPONG:
                    if cw == 0 or may_arrive:
                        T.ptx.bar.arrive(T.Cast("uint32", 2 - cw), T.uint32(256))

            @T.inline
            def release(bar, it):
                if t == 0:
                    T.ptx.mbarrier.arrive.shared.b64(bar.ptr_to([it % STAGES]), T.uint32(1))

            @T.inline
            def softmax(j, qt, row_base):
                # fp32 fragment of m64nN: thread t (warp w, lane l) holds acc[4jj + 2h + v] at
                # row 16w + l/4 + 8h, column 8jj + 2(l%4) + v
                if CAUSAL:
                    if (j + 1) * BN > qt * BM:        # only tiles crossing the diagonal are masked
                        for jj in T.unroll(NS // 4):
                            for h in T.unroll(2):
                                for v in T.unroll(2):
                                    if j * BN + jj * 8 + (t % 4) * 2 + v > row_base + h * 8:
                                        acc_s[jj * 4 + h * 2 + v] = T.float32(NEG_INF)
                for h in T.unroll(2):
                    red[0] = acc_s[2 * h]
                    for jj in T.unroll(NS // 4):
                        for v in T.unroll(2):
                            red[0] = T.max(red[0], acc_s[jj * 4 + h * 2 + v])
                    red[0] = T.cuda.warp_reduce(red[0], "max", 4)      # a row lives in the 4 lanes of a quad
                    red[0] = T.max(red[0], m_i[h])
                    T.ptx["ex2.approx.ftz.f32"](alpha[h], m_i[h] * T.float32(C) - red[0] * T.float32(C))
                    m_i[h] = red[0]
                    red[0] = red[0] * T.float32(C)
                    for jj in T.unroll(NS // 4):
                        for v in T.unroll(2):
                            T.ptx["ex2.approx.ftz.f32"](acc_s[jj * 4 + h * 2 + v],
                                                        acc_s[jj * 4 + h * 2 + v] * T.float32(C) - red[0])
                    red[0] = T.float32(0)
                    for jj in T.unroll(NS // 4):
                        for v in T.unroll(2):
                            red[0] = red[0] + acc_s[jj * 4 + h * 2 + v]
                    l_i[h] = l_i[h] * alpha[h] + red[0]

            @T.inline
            def rescale_o():
                for jj in T.unroll(NO // 4):
                    for h in T.unroll(2):
                        for v in T.unroll(2):
                            acc_o[jj * 4 + h * 2 + v] = acc_o[jj * 4 + h * 2 + v] * alpha[h]

            @T.inline
            def convert_p():
                for i in T.unroll(NP):
                    # cvt.rn.f16x2.f32 d, a, b puts a in the upper half: (odd column, even column)
                    T.ptx[f"cvt.rn.{PT}x2.f32"](preg[i], acc_s[2 * i + 1], acc_s[2 * i])

            if PINGPONG:
                if cw == 1:     # warpgroup 0 goes first
                    T.ptx.bar.arrive(T.Cast("uint32", 1), T.uint32(256))
            kv_done = T.alloc_local([1], "int32")           # KV steps of the earlier tiles
            kv_done[0] = 0
            for tl in T.serial(n_tiles):
                qt, bh = T.meta_var(tile_coords(tl, bid))
                n_kv = T.meta_var(kv_steps(qt))
                row_base = T.meta_var(qt * BM + cw * 64 + (t // 32) * 16 + (t % 32) // 4)   # sequence row
                i0 = T.meta_var(kv_done[0])
                for i in T.unroll(NO):
                    acc_o[i] = T.float32(0)
                for h in T.unroll(2):
                    m_i[h] = T.float32(NEG_INF)
                    l_i[h] = T.float32(0)
                T.cuda.mbarrier_wait(qfull.ptr_to([0]), tl % 2)
                turn_wait()
                issue_s(i0)
                turn_pass(True)
                T.ptx.wgmma.wait_group.sync.aligned(0)
                release(kempty, i0)
                if PERSISTENT and CAUSAL:
                    if n_kv == 1:                               # a one-step tile reads Q no more
                        release(qempty, 0)
                softmax(0, qt, row_base)
                convert_p()
                for j in T.serial(1, n_kv):
                    turn_wait()
                    issue_s(i0 + j)
                    issue_pv(i0 + j - 1)
                    turn_pass(True)
                    T.ptx.wgmma.wait_group.sync.aligned(1)      # S_j done, P_{j-1} V_{j-1} may still run
                    release(kempty, i0 + j)
                    if PERSISTENT:
                        if j == n_kv - 1:                       # Q is no longer read: the next tile's may load
                            release(qempty, 0)
                    softmax(j, qt, row_base)
                    T.ptx.wgmma.wait_group.sync.aligned(0)      # P_{j-1} V_{j-1} done
                    release(vempty, i0 + j - 1)
                    rescale_o()
                    convert_p()
                T.ptx.wgmma.fence.sync.aligned()
                turn_wait()
                issue_pv(i0 + n_kv - 1)
                turn_pass(tl < n_tiles - 1)                     # no arrival left pending after the last turn
                T.ptx.wgmma.wait_group.sync.aligned(0)
                release(vempty, i0 + n_kv - 1)
                kv_done[0] = kv_done[0] + n_kv
                # ---- epilogue: O = acc / row sum (the sum reduced over the quad), fp16 half2 stores
                for h in T.unroll(2):
                    red[0] = T.cuda.warp_reduce(l_i[h], "sum", 4)
                    alpha[h] = T.float32(1) / red[0]
                for jj in T.unroll(NO // 4):
                    for h in T.unroll(2):
                        for v in T.vectorized(2):
                            Output[bh // H, row_base + h * 8, bh % H, jj * 8 + (t % 4) * 2 + v] = T.Cast(
                                DT, acc_o[jj * 4 + h * 2 + v] * alpha[h])

    return attention.with_attr("global_symbol", plan.name).with_attr("tiledsl.tir_pipeline", "tirx")
