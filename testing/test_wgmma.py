"""T.gemm lowered per op on sm_90a with wgmma (the general path, whole-kernel matchers off).

CPU: the layouts are consistent; every GEMM form builds for sm_90a with nvcc and uses wgmma (sm_80 keeps
mma.sync); the ``benchmarks/bench_general.py`` programs are checked in ``testing/test_bench_general.py``. GPU (sm_90): each form computes
what torch computes (float32 reference, output poisoned with NaN first).
"""

import pytest
import torch
from tvm import tirx
from tvm.sym import Analyzer

import tiledsl
from tiledsl.passes.cuda.layout import WGMMAAccumulator, WGMMARows
from tiledsl.passes.cuda.smem_swizzle import wgmma_tile

import general_programs as bench  # the benchmark's programs (benchmarks/bench_general.py runs them)
from example_modules import load_example

SM90A = {"kind": "cuda", "arch": "sm_90a"}


pytestmark = pytest.mark.usefixtures("general_passes_only")


# ---------------------------------------------------------------- layouts (pure Python)
@pytest.mark.parametrize("shape,groups_m,groups_n", [((128, 128), 1, 1), ((128, 256), 2, 1), ((64, 128), 1, 2),
                                                     ((256, 64), 2, 2)])
def test_wgmma_accumulator_layout_is_a_bijection(shape, groups_m, groups_n):
    lay = WGMMAAccumulator(shape, 4 * groups_m, groups_n)
    seen = set()
    for tid in range(lay.nthreads):
        for local in range(lay.local_size):
            row, col = lay.inverse(tid, local)
            assert lay.owner([row, col]) == (tid, local)
            seen.add((row, col))
    assert len(seen) == shape[0] * shape[1]


def test_wgmma_register_order_matches_the_instruction():
    """Thread t of a warpgroup: acc[4j + {0,1}] is row 16w + l/4, cols 8j + 2(l%4) + {0,1}; acc[4j+{2,3}] row + 8."""
    lay = WGMMAAccumulator((64, 64), 4, 1)
    for t in (0, 37, 101, 127):
        w, lane = t // 32, t % 32
        for j in range(8):
            assert lay.inverse(t, 4 * j + 1) == [16 * w + lane // 4, 8 * j + 2 * (lane % 4) + 1]
            assert lay.inverse(t, 4 * j + 2) == [16 * w + lane // 4 + 8, 8 * j + 2 * (lane % 4)]


def test_wgmma_rows_follow_their_accumulator():
    acc = WGMMAAccumulator((128, 64), 4, 2)  # 1 x 2 warpgroups: two groups share each row
    rows = acc.rows_layout()
    assert isinstance(rows, WGMMARows) and rows.matches(acc)
    for tid in range(0, acc.nthreads, 5):
        for slot in range(acc.local_size):
            reg = WGMMARows.register_of(acc, slot)
            assert rows.inverse(tid, reg)[0] == acc.inverse(tid, slot)[0]
    assert rows.peer_warps(5) == [1, 5]


@pytest.mark.parametrize("shape,dtype,swizzle", [((2, 8, 128), "float16", 128), ((16, 32), "float16", 64),
                                                 ((8, 256), "float8_e4m3fn", 128)])
def test_wgmma_tile_layout_permutes_whole_chunks(shape, dtype, swizzle):
    buf = tirx.decl_buffer(shape, dtype, "t", scope="shared.dyn")
    tile = wgmma_tile(buf)
    assert tile is not None and tile.swizzle_bytes == swizzle
    ana, n = Analyzer(), 1
    for e in shape:
        n *= e
    pos = [int(ana.simplify(tile.offset(buf, tirx.const(f, "int32")))) for f in range(n)]
    assert sorted(pos) == list(range(n))
    for f in range(0, n, tile.chunk):  # a 16-byte chunk stays whole and in order
        assert pos[f:f + tile.chunk] == list(range(pos[f], pos[f] + tile.chunk))
    if len(shape) == 3:  # stages stay in place, 1024-byte tiles
        assert all(p // (shape[1] * shape[2]) == f // (shape[1] * shape[2]) for f, p in enumerate(pos))


# ---------------------------------------------------------------- builds for sm_90a (nvcc)
def _gemm(M, N, K, trans_A=False, trans_B=False, dtype="float16", block_M=128, block_N=128, block_K=64,
          threads=256, stages=4):
    return bench.gemm(M, N, K, block_M=block_M, block_N=block_N, block_K=block_K, stages=stages, threads=threads,
                      dtype=dtype, trans_A=trans_A, trans_B=trans_B)


def fragment_a_gemm(M, N, K, block_M=128, block_N=128, block_K=64, threads=256):
    """C = (2 A) @ B with A scaled in registers (a striped fragment): it is staged through a wgmma shared tile."""
    import tiledsl.language as T

    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), C: T.Tensor((M, N), "float16")):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_f = T.alloc_fragment((block_M, block_K), "float16")
            B_s = T.alloc_shared((block_K, block_N), "float16")
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for k in T.serial(T.ceildiv(K, block_K)):
                T.copy(A[by * block_M, k * block_K], A_f)
                for i, j in T.Parallel(block_M, block_K):
                    A_f[i, j] = A_f[i, j] * T.float16(2)
                T.copy(B[k * block_K, bx * block_N], B_s)
                T.gemm(A_f, B_s, C_f)
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


FORMS = {
    "plain": lambda: _gemm(256, 256, 256),
    "A_T": lambda: _gemm(256, 256, 256, trans_A=True),
    "B_T": lambda: _gemm(256, 256, 256, trans_B=True),
    "A_T_B_T": lambda: _gemm(256, 256, 256, trans_A=True, trans_B=True),
    "bf16": lambda: _gemm(256, 256, 256, dtype="bfloat16"),
    "one_warpgroup_two_m_blocks": lambda: _gemm(256, 256, 256, threads=128),
    "block_K_32": lambda: _gemm(256, 256, 256, block_K=32),
    "warpgroups_split_n": lambda: _gemm(128, 256, 128, block_M=64, block_N=128),
    "batched": lambda: bench.batched_gemm(2, 256, 256, 128, block_N=128),
    "swiglu": lambda: bench.swiglu(256, 256, 128),
    "int8_weight": lambda: bench.int8_weight_gemm(256, 256, 128),
    "fragment_a_staged": lambda: fragment_a_gemm(256, 256, 128),
    "three_warpgroups_256_wide": lambda: _gemm(384, 512, 256, block_M=192, block_N=256, threads=384, stages=3),
    "four_warpgroups": lambda: _gemm(512, 256, 256, block_M=256, block_N=128, threads=512, stages=3),
}


@pytest.fixture(scope="module")
def sm90_sources():
    cache = {}

    def get(name, func=None):
        if name not in cache:
            func = func if func is not None else FORMS[name]()
            cache[name] = tiledsl.compile(func, out_idx=[], target=SM90A).get_kernel_source()
        return cache[name]
    return get


@pytest.mark.nvcc
@pytest.mark.parametrize("name", sorted(FORMS))
def test_gemm_forms_use_wgmma_on_sm90a(name, sm90_sources, monkeypatch):
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    body = sm90_sources(name).split("__global__", 1)[1]
    assert "wgmma_" in body and "mma_async" in body
    assert "wgmma_commit_group" in body and "wgmma_wait_group" in body and "fence_proxy_proxy_async" in body
    assert "mma_sync_aligned" not in body and "ldmatrix" not in body
    if name == "bf16":
        assert "f32_bf16_bf16" in body
    if name == "fragment_a_staged":
        assert "A_f_staged" in body and "wgmma_f16_ss" in body


@pytest.mark.nvcc
def test_pipelined_gemm_keeps_one_wgmma_group_in_flight(sm90_sources):
    body = sm90_sources("plain").split("__global__", 1)[1]
    loop, after = body.split("for (int k_p", 1)[1].split("wgmma_wait_group_wait_group_sync_aligned_0();", 1)
    assert "wgmma_wait_group_wait_group_sync_aligned_1();" in loop  # the previous iteration's group is done
    # 4 stages: copies 2 ahead, 1 stage in use (cp.async: wait_group 1; TMA on sm_90a: the stage's full barrier)
    assert "cp_async_wait_group_async_wait_group_1();" in loop or "mbarrier_wait((&(A_s_full_ptr" in loop
    # the epilogue (plain stores, or TMA stores through the C tensor map) runs after the drain
    assert "C_ptr" not in loop and "C_tmap" not in loop and ("C_ptr" in after or "C_tmap" in after)


@pytest.mark.nvcc
def test_a_wgmma_too_wide_beside_a_producer_stays_unspecialized(sm90_sources):
    """64 x 256 float32 per warpgroup (128 registers) over 384 threads: with a producer warpgroup a thread holds
    128 registers at launch, too few for ptxas, so the loop is not warp-specialized (it built with 168); 128 x 128
    over 256 threads is."""
    assert "setmaxnreg" not in sm90_sources("three_warpgroups_256_wide")
    assert "setmaxnreg" in sm90_sources("plain")


@pytest.mark.nvcc
def test_four_consumer_warpgroups_ask_for_what_the_block_holds(sm90_sources):
    """512 consumer threads and the producer: 96 registers a thread at launch (640 threads), so the consumers grow
    to 104 beside the producer's 56 (61440 of the block's registers), not to 112, which setmaxnreg.inc would wait
    for forever."""
    source = sm90_sources("four_warpgroups")
    assert "__launch_bounds__(640)" in source and "setmaxnreg.inc.sync.aligned.u32 104" in source


@pytest.mark.nvcc
def test_sm80_keeps_mma_sync():
    src = tiledsl.compile(FORMS["plain"](), out_idx=[], target={"kind": "cuda", "arch": "sm_80"}).get_kernel_source()
    body = src.split("__global__", 1)[1]
    assert "mma_sync_aligned_m16n8k16" in body and "wgmma" not in body


@pytest.mark.nvcc
def test_fp8_gemm_uses_wgmma(sm90_sources):
    fp8 = load_example("gemm_fp8", "gemm_fp8_for_wgmma_test")
    prim = fp8.fp8_linear.get_tir(256, 256, 256)
    assert "f32_e4m3_e4m3" in sm90_sources("fp8", prim)


@pytest.mark.nvcc
def test_flash_attention_reads_p_from_registers(sm90_sources):
    body = sm90_sources("flash_attention", bench.flash_attention(1, 2, 256, 64, True)).split("__global__", 1)[1]
    assert "wgmma_f16_ss" in body  # Q K^T from shared tiles
    assert "wgmma_f16_rs" in body  # P V with P from registers
    assert "_staged" not in body


# ---------------------------------------------------------------- GPU correctness
def _gemm_inputs(M, N, K, trans_A, trans_B, dtype):
    a = torch.randn((K, M) if trans_A else (M, K), device="cuda").to(dtype)
    b = torch.randn((N, K) if trans_B else (K, N), device="cuda").to(dtype)
    return a, b


GPU_FORMS = {  # name: (M, N, K, kwargs)
    "plain": (256, 384, 320, {}),
    "A_T": (256, 256, 192, {"trans_A": True}),
    "B_T": (256, 256, 192, {"trans_B": True}),
    "A_T_B_T": (256, 256, 128, {"trans_A": True, "trans_B": True}),
    "bf16": (256, 256, 256, {"dtype": "bfloat16"}),
    "one_warpgroup_two_m_blocks": (256, 256, 256, {"threads": 128}),
    "block_K_32": (256, 256, 256, {"block_K": 32}),
    "warpgroups_split_n": (128, 256, 128, {"block_M": 64, "block_N": 128}),
    "ragged": (200, 136, 100, {}),
    "three_warpgroups_256_wide": (384, 512, 256, {"block_M": 192, "block_N": 256, "threads": 384, "stages": 3}),
    "four_warpgroups": (512, 256, 256, {"block_M": 256, "block_N": 128, "threads": 512, "stages": 3}),
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(GPU_FORMS))
def test_wgmma_gemm_matches_torch(name):
    M, N, K, kw = GPU_FORMS[name]
    dtype = kw.get("dtype", "float16")
    kernel = tiledsl.compile(_gemm(M, N, K, **kw), out_idx=[], target="cuda")
    assert bench.gemm_instruction(kernel.get_kernel_source()) == "wgmma"
    a, b = _gemm_inputs(M, N, K, kw.get("trans_A", False), kw.get("trans_B", False), getattr(torch, dtype))
    r = torch.zeros(M, N, device="cuda", dtype=getattr(torch, dtype))
    c = torch.full((M, N), float("nan"), device="cuda", dtype=getattr(torch, dtype))
    kernel(a, b, r, c)
    torch.cuda.synchronize()
    af = a.float().T if kw.get("trans_A") else a.float()
    bf = b.float().T if kw.get("trans_B") else b.float()
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.float(), af @ bf, rtol=2e-2, atol=2e-1)


@pytest.mark.gpu
def test_staged_fragment_operand_matches_torch():
    M, N, K = 256, 256, 192
    kernel = tiledsl.compile(fragment_a_gemm(M, N, K), out_idx=[], target="cuda")
    a, b = _gemm_inputs(M, N, K, False, False, torch.float16)
    c = torch.full((M, N), float("nan"), device="cuda", dtype=torch.float16)
    kernel(a, b, c)
    torch.cuda.synchronize()
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.float(), 2 * a.float() @ b.float(), rtol=2e-2, atol=4e-1)


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
def test_flash_attention_with_wgmma_matches_torch(causal):
    kernel = bench.check_flash_attention_on_gpu(1, 2, 384, 64, causal)
    assert "wgmma_f16_rs" in kernel.get_kernel_source()


# ---------------------------------------------------------------- the one lowering entry
def test_lower_decides_the_path_for_the_target(monkeypatch):
    """passes.pipeline.lower: the whole-kernel shortcut only on sm_90a and only when allowed; else the passes."""
    import tvm
    from tiledsl.passes.pipeline import lower

    example = load_example("gemm", "gemm_example_for_lower_test")
    prim = example.matmul.get_tir(512, 512, 512, block_M=128, block_N=128, block_K=64, threads=256, num_stages=3)
    mod = tvm.IRModule({"main": prim})
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "0")  # the whole-kernel shortcut allowed
    assert lower(mod, tvm.target.Target(SM90A)).path == "hopper_gemm"
    general = lower(mod, tvm.target.Target(SM90A), allow_hopper_shortcut=False)
    assert general.path == "generic" and general.tir_pipeline == "default"
    assert lower(mod, tvm.target.Target({"kind": "cuda", "arch": "sm_80"})).path == "generic"
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    assert lower(mod, tvm.target.Target(SM90A)).path == "generic"
    assert lower(mod, "llvm").tir_pipeline == "default"


def test_the_shortcut_is_off_unless_switched_on(monkeypatch):
    """Since 2026-12-07 the general passes lower every program by default; ``TILEDSL_HOPPER_SHORTCUT=1`` (or the
    older ``TILEDSL_DISABLE_HOPPER_GEMM=0``) lets the whole-kernel matchers take the programs they recognize, and
    the newer variable wins where both are set."""
    import tvm
    from tiledsl.passes.pipeline import lower

    example = load_example("gemm", "gemm_example_for_default_path_test")
    mod = tvm.IRModule({"main": example.matmul.get_tir(512, 512, 512, block_M=128, block_N=128, block_K=64,
                                                       threads=256, num_stages=3)})
    sm90 = tvm.target.Target(SM90A)
    monkeypatch.delenv("TILEDSL_DISABLE_HOPPER_GEMM", raising=False)
    monkeypatch.delenv("TILEDSL_HOPPER_SHORTCUT", raising=False)
    assert lower(mod, sm90).path == "generic"
    monkeypatch.setenv("TILEDSL_HOPPER_SHORTCUT", "1")
    assert lower(mod, sm90).path == "hopper_gemm"
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")  # the newer variable wins
    assert lower(mod, sm90).path == "hopper_gemm"
    monkeypatch.delenv("TILEDSL_HOPPER_SHORTCUT")
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "0")
    assert lower(mod, sm90).path == "hopper_gemm"
    monkeypatch.setenv("TILEDSL_HOPPER_SHORTCUT", "0")
    assert lower(mod, sm90).path == "generic"


@pytest.mark.gpu
def test_fp8_gemm_with_wgmma_matches_torch():
    fp8 = load_example("gemm_fp8", "gemm_fp8_for_wgmma_gpu_test")
    M, N, K = 256, 512, 384
    kernel = tiledsl.compile(fp8.fp8_linear.get_tir(M, N, K), out_idx=[], target="cuda")
    assert "f32_e4m3_e4m3" in kernel.get_kernel_source()
    a = torch.randn(M, K, device="cuda").to(torch.float8_e4m3fn)
    b = (torch.randn(N, K, device="cuda") / 4).to(torch.float8_e4m3fn)
    bias = torch.randn(N, device="cuda")
    c = torch.full((M, N), float("nan"), device="cuda", dtype=torch.bfloat16)
    kernel(a, b, 0.5, bias, c)
    torch.cuda.synchronize()
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.double(), fp8.reference(a, b, 0.5, bias), rtol=2e-2, atol=5e-2)


@pytest.mark.gpu
def test_gqa_bf16_attention_with_wgmma_matches_torch():
    """bf16, 4 query heads per K/V head, causal, 64x64 tiles on one warpgroup: P (bf16) from registers."""
    fa = load_example("flash_attention", "flash_attention_for_wgmma_gpu_test")
    B, H, S, D, groups = 1, 8, 320, 64, 4
    kernel = tiledsl.compile(fa.flash_attention.get_tir(B, H, S, D, True, groups=groups, dtype="bfloat16"),
                             out_idx=[], target="cuda")
    assert "wgmma_bf16_rs" in kernel.get_kernel_source()
    q = torch.randn(B, S, H, D, device="cuda").bfloat16()
    k, v = (torch.randn(B, S, H // groups, D, device="cuda").bfloat16() for _ in range(2))
    out = torch.full_like(q, float("nan"))
    kernel(q, k, v, out)
    torch.cuda.synchronize()
    assert not torch.isnan(out).any()
    torch.testing.assert_close(out.double(), fa.reference(q, k, v, True), rtol=3e-2, atol=3e-2)


def test_grouped_gemm_program_on_cpu():
    """The grouped GEMM of bench_general (run-time group sizes, masked store) computes A_g @ B_g (LLVM target)."""
    sizes = [40, 72, 8]
    offsets = torch.tensor([0, 40, 112, 120], dtype=torch.int32)
    func = bench.grouped_gemm(3, sum(sizes), max(sizes), 32, 48, block_M=32, block_N=32, block_K=16, stages=2,
                              threads=128)
    kernel = tiledsl.compile(func, out_idx=[], target="llvm")
    a, b = torch.randn(sum(sizes), 48).half(), torch.randn(3, 48, 32).half()
    c = torch.full((sum(sizes), 32), float("nan")).half()
    kernel(a, b, offsets, c)
    want = torch.cat([a[s:e].float() @ b[g].float() for g, (s, e) in enumerate([(0, 40), (40, 112), (112, 120)])])
    torch.testing.assert_close(c.float(), want, rtol=2e-2, atol=5e-2)


def test_too_much_shared_memory_is_a_tile_program_error():
    from tiledsl.errors import TileProgramError

    with pytest.raises(TileProgramError, match="shared memory: .*KiB.*num_stages"):
        tiledsl.compile(_gemm(512, 512, 512, block_N=256, stages=5), out_idx=[], target=SM90A)


@pytest.mark.parametrize("block_M, block_N, threads, says", [
    (256, 256, 512, "65536 registers, the whole register file"),
    (128, 256, 128, "256 registers in each of the 128 threads"),
])
def test_an_accumulator_wgmma_cannot_hold_in_registers_is_a_tile_program_error(block_M, block_N, threads, says,
                                                                                monkeypatch):
    """A wgmma accumulator too big for the register file (ptxas would abort after the whole build, "Insufficient
    registers") is refused before nvcc with its tile named; 128 x 256 over 256 threads still builds."""
    from tiledsl.errors import TileProgramError

    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    with pytest.raises(TileProgramError, match=f"accumulator C_f {block_M} x {block_N} float32: .*{says}"):
        tiledsl.compile(_gemm(512, 512, 512, block_M=block_M, block_N=block_N, threads=threads, stages=2),
                        out_idx=[], target=SM90A)
