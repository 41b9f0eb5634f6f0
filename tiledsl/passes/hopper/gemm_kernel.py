"""The warp-specialized Hopper GEMM a matched tile program becomes.

One CTA per SM (persistent, grouped rasterization) loops over output tiles of BM x BN:
- warpgroup 0, the producer (``setmaxnreg.dec``): one thread streams A and B tiles with TMA
  (``cp.async.bulk.tensor``, 128-byte swizzle) into a ring of ``stages`` shared-memory slots, each guarded by a
  "full" and an "empty" mbarrier;
- warpgroups 1..NC, the consumers (``setmaxnreg.inc``): each owns BM / NC rows (one or two 64-row wgmma
  sub-tiles), waits for a slot, issues ``wgmma.mma_async m64nBNk16`` from shared-memory descriptors, releases the
  slot one k-step later, and writes its results through a 128-byte-swizzled staging tile with a TMA store.

With ``plan.split_k = S > 1`` (few output tiles, long K) the work units are (tile, K slice) pairs: each CTA
computes one slice of K, stores its fp32 partial tile to a module-global workspace in L2 (in the accumulator's own
register order, so every access is a coalesced 16-byte one), fences and counts itself in with an atomic; the CTA
that arrives last adds the other S - 1 partials to its registers and runs the epilogue. The arrival counters are
never reset: every launch adds exactly S to each, so "last" is ``count % S == S - 1``, and the workspace is a
``__device__`` array (zero at module load), so the kernel keeps its three-tensor signature. One consequence: two
launches of the same split-K kernel must not run concurrently (on two streams), as with a cuBLAS workspace.

The layout facts (descriptor strides, the accumulator register layout, the swizzle of the staging tile) follow
``shared/notes/hopper-gemm/NOTES.md``, where they were checked on an H100.
"""
from __future__ import annotations

from tvm import tirx
from tvm.backend.cuda.lang import SMEMPool
from tvm.script import tirx as T

from .gemm_match import GemmPlan
from .kernel_common import PRODUCER_REGS, PTX_TYPE, SWIZZLE_128B, TMA_LOAD, consumer_registers



def _split_k_helpers(prefix: str, partial_float4s: int, counters: int) -> dict[str, str]:
    """CUDA source of the split-K helpers (name -> source), each carrying the workspace declarations once."""
    decls = f"""#ifndef {prefix}_DECLARED
#define {prefix}_DECLARED
__device__ float4 {prefix}_partials[{partial_float4s}];
__device__ unsigned int {prefix}_arrivals[{counters}];
#endif
"""
    bodies = {
        "put": "(int i, float a, float b, float c, float d) {\n"
               f"  __stcg(&{prefix}_partials[i], make_float4(a, b, c, d));\n}}\n",
        "add": "(int i, float* acc) {\n"
               f"  float4 v = __ldcg(&{prefix}_partials[i]);\n"
               "  acc[0] += v.x; acc[1] += v.y; acc[2] += v.z; acc[3] += v.w;\n}\n",
        "fence": "() {\n  __threadfence();\n}\n",
        "arrive": "(int slot, unsigned int splits) {\n"
                  f"  unsigned int before = atomicAdd(&{prefix}_arrivals[slot], 1u);\n"
                  "  __threadfence();\n"
                  "  return (int)(before % splits == splits - 1u);\n}\n",
    }
    ret = {"put": "void", "add": "void", "fence": "void", "arrive": "int"}
    return {name: decls + f"__forceinline__ __device__ {ret[name]} {prefix}_{name}{body}"
            for name, body in bodies.items()}


def make_gemm_kernel(plan: GemmPlan):
    """The PrimFunc (host part with TMA descriptors, then the device kernel) for a matched GEMM."""
    M, N, K = plan.M, plan.N, plan.K
    BM, BN, BK, STAGES = plan.block_M, plan.block_N, plan.block_K, plan.stages
    NC, MT = plan.consumers, plan.subtiles_per_consumer
    ROWS = MT * 64                         # rows per consumer warpgroup
    THREADS = 128 * (NC + 1)
    CONSUMER_COUNT = consumer_registers(THREADS)  # setmaxnreg.inc after the producer's .dec
    KT = -(-K // BK)                       # ragged edges: TMA zero-fills loads past the tensor and clips stores
    GM, GN = -(-M // BM), -(-N // BN)
    NT = GM * GN
    SPLIT = plan.split_k                   # K slices per output tile; a work unit is (tile, slice)
    KS = KT // SPLIT                       # k-tiles per unit
    NU = NT * SPLIT
    GRID = min(plan.num_sms, NU)
    GROUP_M = plan.group_m
    ACC_N = BN // 2                        # fp32 accumulators per thread for one m64nBN sub-tile
    NACC = MT * ACC_N
    A_TILE, B_TILE = BM * BK, BN * BK
    IN_B = plan.in_bytes                   # bytes per input element: 2 (16-bit) or 1 (float8)
    KSTEP = 32 // IN_B                     # k per wgmma (k16 for 16-bit inputs, k32 for float8): 32 bytes of a row
    TX_BYTES = (A_TILE + B_TILE) * IN_B
    EPI_COLS = plan.epilogue_cols
    E = plan.out_bytes
    BOX_COLS, CHUNK = 128 // E, 16 // E    # output columns per 128-byte TMA box row / per 16-byte swizzle chunk
    RAGGED = M % BM != 0 or N % BN != 0
    dt, bdt, out_dt = plan.dtype, plan.b_dtype or plan.dtype, plan.out_dtype
    tma_dt, tma_bdt = ("uint8" if IN_B == 1 else dt), ("uint8" if IN_B == 1 else bdt)   # TMA moves bytes
    WGMMA = f"wgmma.mma_async.sync.aligned.m64n{BN}k{KSTEP}.f32.{PTX_TYPE[dt]}.{PTX_TYPE[bdt]}"
    # operands after the descriptors and scale-d: imm-scale-a/b, and for 16-bit inputs tnsp-a/b too
    WGMMA_IMM = (1, 1) if IN_B == 1 else None
    TMA_STORE = "cp.async.bulk.tensor.2d.global.shared::cta.bulk_group"
    B_K_MAJOR = plan.b_k_major
    B_SHAPE = (N, K) if B_K_MAJOR else (K, N)
    KK_B_BYTES = 32 if B_K_MAJOR else 16 * 128   # advance of B per k16 step
    SW = SWIZZLE_128B
    NQ = NACC // 4                         # float4s of partial sums per consumer thread
    SK = f"tiledsl_splitk_{plan.name}"
    sk_src = _split_k_helpers(SK, NT * NC * SPLIT * NQ * 128, NT * NC) if SPLIT > 1 else {}

    def sk_call(name, *args, ret="void"):
        return T.cuda.func_call(f"{SK}_{name}", *args, source_code=sk_src[name], return_type=ret)

    def epilogue(acc_value, row, col, tm, tn):
        """The program's elementwise epilogue on one accumulator element (row, col of tile tm, tn). The padding
        of ragged tiles is computed too (and never stored), with every load clamped into its tensor."""
        if not plan.epilogue:
            return acc_value
        return plan.epilogue_value(acc_value, row, col, (tm, tn), clamp=RAGGED)

    def tile_of(p):
        """(M tile, N tile) of the p-th tile in grouped order: GROUP_M M-tiles share each B tile in L2."""
        first_m = (p // (GROUP_M * GN)) * GROUP_M
        group_size = T.min(GM - first_m, GROUP_M)
        return first_m + (p % (GROUP_M * GN)) % group_size, (p % (GROUP_M * GN)) // group_size

    @T.prim_func(check_well_formed=False)  # the epilogue may read program parameters added afterwards
    def gemm(A: T.Buffer((M, K), dt), B: T.Buffer(B_SHAPE, bdt), C: T.Buffer((M, N), out_dt)):
        A_map: T.let[T.handle("tensormap")] = T.tvm_stack_alloca("tensormap", 1)
        T.call_packed("runtime.cuTensorMapEncodeTiled", A_map, tma_dt, 2, A.data, K, M, K * IN_B, BK, BM, 1, 1, 0, SW,
                      3, 0)
        B_map: T.let[T.handle("tensormap")] = T.tvm_stack_alloca("tensormap", 1)
        if B_K_MAJOR:
            T.call_packed("runtime.cuTensorMapEncodeTiled", B_map, tma_bdt, 2, B.data, K, N, K * IN_B, BK, BN, 1, 1, 0,
                          SW, 3, 0)
        else:
            T.call_packed("runtime.cuTensorMapEncodeTiled", B_map, dt, 2, B.data, N, K, N * 2, 64, BK, 1, 1, 0, SW,
                          3, 0)
        C_map: T.let[T.handle("tensormap")] = T.tvm_stack_alloca("tensormap", 1)
        T.call_packed("runtime.cuTensorMapEncodeTiled", C_map, out_dt, 2, C.data, N, M, N * E, BOX_COLS, 64, 1, 1, 0,
                      SW, 0, 0)

        T.device_entry()
        T.attr({"tirx.launch_bounds_min_blocks_per_sm": 1})
        bid = T.cta_id([GRID])
        tx = T.thread_id([THREADS])
        wg = T.warpgroup_id([NC + 1])

        pool = T.meta_var(SMEMPool())
        As = pool.alloc((STAGES, BM, BK), tma_dt, align=1024)
        Bs = pool.alloc((STAGES, BN, BK), tma_bdt, align=1024)
        Cs = pool.alloc((NC, EPI_COLS // BOX_COLS, 64, BOX_COLS), out_dt, align=1024)
        full = pool.alloc((STAGES,), "uint64", align=8)
        empty = pool.alloc((STAGES,), "uint64", align=8)
        last_flag = pool.alloc((NC,), "int32", align=4)
        pool.commit()

        if tx == 0:
            T.cuda.trap_when_assert_failed(T.cuda.cvta_generic_to_shared(As.ptr_to([0, 0, 0])) % 1024 == 0)
            for s in T.unroll(STAGES):
                T.ptx.mbarrier.init.shared.b64(full.ptr_to([s]), T.uint32(1))
                T.ptx.mbarrier.init.shared.b64(empty.ptr_to([s]), T.uint32(NC))
            T.ptx.fence.proxy.async_.shared__cta()
        T.cuda.cta_sync()

        n_iter = T.meta_var((NU - bid + GRID - 1) // GRID)

        if wg == 0:
            T.ptx["setmaxnreg.dec.sync.aligned.u32"](PRODUCER_REGS)
            if tx == 0:
                for i in T.serial(n_iter):
                    tm, tn = T.meta_var(tile_of((bid + i * GRID) // SPLIT))
                    k0 = T.meta_var(((bid + i * GRID) % SPLIT) * KS)
                    for kt in T.serial(KS):
                        it = T.meta_var(i * KS + kt)
                        s = T.meta_var(it % STAGES)
                        if it >= STAGES:
                            T.cuda.mbarrier_wait(empty.ptr_to([s]), ((it // STAGES) + 1) % 2)
                        T.ptx.mbarrier.arrive.expect_tx.shared.b64(full.ptr_to([s]), T.uint32(TX_BYTES))
                        T.ptx[TMA_LOAD](As.ptr_to([s, 0, 0]), T.address_of(A_map), (k0 + kt) * BK, tm * BM,
                                        full.ptr_to([s]))
                        if B_K_MAJOR:
                            T.ptx[TMA_LOAD](Bs.ptr_to([s, 0, 0]), T.address_of(B_map), (k0 + kt) * BK, tn * BN,
                                            full.ptr_to([s]))
                        else:
                            for q in T.unroll(BN // 64):
                                T.ptx[TMA_LOAD](Bs.ptr_to([s, q * 64, 0]), T.address_of(B_map), tn * BN + q * 64,
                                                (k0 + kt) * BK, full.ptr_to([s]))
        else:
            T.ptx["setmaxnreg.inc.sync.aligned.u32"](CONSUMER_COUNT)
            cw = T.meta_var(wg - 1)
            acc = T.alloc_local([NACC], "float32")
            is_last = T.alloc_local([1], "int32")  # this CTA writes the tile (always, without split-K)
            is_last[0] = 1
            descA = T.alloc_local([MT], "uint64")
            descB: T.uint64
            for mt in T.unroll(MT):
                T.cuda.wgmma.encode_matrix_descriptor(T.address_of(descA[mt]), As.ptr_to([0, cw * ROWS + mt * 64, 0]),
                                                      1, 64, SW)
            if B_K_MAJOR:
                T.cuda.wgmma.encode_matrix_descriptor(T.address_of(descB), Bs.ptr_to([0, 0, 0]), 1, 64, SW)
            else:
                T.cuda.wgmma.encode_matrix_descriptor(T.address_of(descB), Bs.ptr_to([0, 0, 0]), 512, 64, SW)
            for i in T.serial(n_iter):
                unit = T.meta_var(bid + i * GRID)
                tm, tn = T.meta_var(tile_of(unit // SPLIT))
                for kt in T.serial(KS):
                    it = T.meta_var(i * KS + kt)
                    s = T.meta_var(it % STAGES)
                    T.cuda.mbarrier_wait(full.ptr_to([s]), (it // STAGES) % 2)
                    T.ptx.wgmma.fence.sync.aligned()
                    for kk in T.unroll(BK // KSTEP):
                        for mt in T.unroll(MT):
                            T.ptx[WGMMA](*[acc[mt * ACC_N + j] for j in range(ACC_N)],
                                         descA[mt] + T.Cast("uint64", (s * (A_TILE * IN_B) + kk * 32) // 16),
                                         descB + T.Cast("uint64", (s * (B_TILE * IN_B) + kk * KK_B_BYTES) // 16),
                                         kt * (BK // KSTEP) + kk > 0,
                                         *(WGMMA_IMM or (1, 1, 0, 0 if B_K_MAJOR else 1)))
                    T.ptx.wgmma.commit_group.sync.aligned()
                    T.ptx.wgmma.wait_group.sync.aligned(1)
                    if kt > 0:
                        if tx % 128 == 0:
                            T.ptx.mbarrier.arrive.shared.b64(empty.ptr_to([(it + STAGES - 1) % STAGES]), T.uint32(1))
                T.ptx.wgmma.wait_group.sync.aligned(0)
                if tx % 128 == 0:
                    T.ptx.mbarrier.arrive.shared.b64(empty.ptr_to([(i * KS + KS - 1) % STAGES]), T.uint32(1))
                t = T.meta_var(tx % 128)
                if SPLIT > 1:
                    # split-K: publish this slice's partial tile, count in; the last CTA of the tile sums them.
                    slot = T.meta_var((unit // SPLIT) * NC + cw)
                    for q in T.unroll(NQ):
                        sk_call("put", ((slot * SPLIT + unit % SPLIT) * NQ + q) * 128 + t,
                                acc[4 * q], acc[4 * q + 1], acc[4 * q + 2], acc[4 * q + 3])
                    sk_call("fence")
                    T.ptx.bar.sync(T.Cast("uint32", 1 + cw), T.uint32(128))
                    if t == 0:
                        last_flag[cw] = sk_call("arrive", slot, T.uint32(SPLIT), ret="int32")
                    T.ptx.bar.sync(T.Cast("uint32", 1 + cw), T.uint32(128))
                    is_last[0] = last_flag[cw]  # read before this thread reaches the next unit's first barrier
                    if is_last[0] != 0:
                        for other in T.serial(SPLIT):
                            if other != unit % SPLIT:
                                for q in T.unroll(NQ):
                                    sk_call("add", ((slot * SPLIT + other) * NQ + q) * 128 + t,
                                            T.address_of(acc[4 * q]))
                # epilogue: registers -> 128B-swizzled staging -> TMA store, EPI_COLS columns per pass.
                # Accumulator layout (thread t, warp w = t/32, lane l): acc[4j + 2h + v] is row 16w + l/4 + 8h,
                # column 8j + 2(l%4) + v of the 64 x BN sub-tile.
                if is_last[0] != 0:
                    for mt in T.unroll(MT):
                        for h2 in T.unroll(BN // EPI_COLS):
                            if t == 0:
                                T.ptx.cp.async_.bulk.wait_group.read(0)
                            T.ptx.bar.sync(T.Cast("uint32", 1 + cw), T.uint32(128))
                            for jj in T.unroll(EPI_COLS // 8):
                                for h in T.unroll(2):
                                    for v in T.vectorized(2):
                                        Cs[cw, (jj * 8) // BOX_COLS, (t // 32) * 16 + (t % 32) // 4 + h * 8,
                                           (((jj * 8 + (t % 4) * 2) % BOX_COLS // CHUNK) ^ ((t % 32) // 4)) * CHUNK +
                                           (jj * 8 + (t % 4) * 2) % CHUNK + v] = T.Cast(out_dt, epilogue(
                                            acc[mt * ACC_N + (h2 * (EPI_COLS // 8) + jj) * 4 + h * 2 + v],
                                            cw * ROWS + mt * 64 + (t // 32) * 16 + (t % 32) // 4 + h * 8,
                                            h2 * EPI_COLS + jj * 8 + (t % 4) * 2 + v, tm, tn))
                            T.ptx.fence.proxy.async_.shared__cta()
                            T.ptx.bar.sync(T.Cast("uint32", 1 + cw), T.uint32(128))
                            if t == 0:
                                for sb in T.unroll(EPI_COLS // BOX_COLS):
                                    T.ptx[TMA_STORE](T.address_of(C_map), tn * BN + h2 * EPI_COLS + sb * BOX_COLS,
                                                     tm * BM + cw * ROWS + mt * 64, Cs.ptr_to([cw, sb, 0, 0]))
                                T.ptx.cp.async_.bulk.commit_group()
            if tx % 128 == 0:
                T.ptx.cp.async_.bulk.wait_group(0)

    gemm = gemm.with_attr("global_symbol", plan.name).with_attr("tiledsl.tir_pipeline", "tirx")
    return _with_program_signature(gemm, plan)


def _with_program_signature(kernel, plan: GemmPlan):
    """``kernel`` taking the program's parameters in the program's order: A, B and C where the program has them,
    and the program's own other parameters (read by the epilogue) as they are."""
    if plan.roles == ("A", "B", "C") or not plan.roles:
        return kernel
    ours = dict(zip("ABC", kernel.params))
    params = [ours[role] if role else p for p, role in zip(plan.params, plan.roles)]
    return tirx.PrimFunc(params, kernel.body, kernel.ret_type, kernel.attrs)
