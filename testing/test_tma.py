"""Pipelined global -> shared copies as TMA loads into an mbarrier ring on sm_90a (the general path, matchers off).

CPU (nvcc): every GEMM form and the flash-attention forward build for sm_90a with ``cp.async.bulk.tensor`` +
mbarriers + wgmma and no cp.async left in the loop; tensor maps are kernel parameters encoded by the host; copies
TMA cannot do keep cp.async; sm_80 keeps cp.async + mma.sync. GPU (sm_90, marked ``gpu``): each form computes what
torch computes (float32 reference, outputs poisoned with NaN), with ragged M, N, K and K shorter than the ring.
"""

import re

import pytest
import torch

import tiledsl
import tiledsl.language as T

import general_programs as bench  # the benchmark's programs (benchmarks/bench_general.py runs them)
from example_modules import load_example
from tiledsl.passes.cuda import warp_specialize

SM90A = {"kind": "cuda", "arch": "sm_90a"}


pytestmark = pytest.mark.usefixtures("general_passes_only")


@pytest.fixture(autouse=True)
def _switches(monkeypatch):
    monkeypatch.delenv("TILEDSL_DISABLE_TMA", raising=False)
    monkeypatch.delenv("TILEDSL_TMA", raising=False)  # on by default since 2026-12-05
    monkeypatch.delenv("TILEDSL_PERSISTENT", raising=False)


def _gemm(M, N, K, **kw):
    kw.setdefault("block_N", 128)
    return bench.gemm(M, N, K, **kw)


def gemm_with_scale(M, N, K, block_M=128, block_N=128, block_K=64, stages=3, threads=256):
    """C = A @ B + n_k * S[i % 8, j]: a float32 tile copied in the loop besides the operands (an unswizzled TMA
    box) and added to the accumulator in every iteration."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), S: T.Tensor((8, N), "float32"),
               C: T.Tensor((M, N), "float16")):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), "float16")
            B_s = T.alloc_shared((block_K, block_N), "float16")
            S_s = T.alloc_shared((8, block_N), "float32")
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[by * block_M, k * block_K], A_s)
                T.copy(B[k * block_K, bx * block_N], B_s)
                T.copy(S[0:8, bx * block_N:bx * block_N + block_N], S_s)
                T.gemm(A_s, B_s, C_f)
                for i, j in T.Parallel(block_M, block_N):
                    C_f[i, j] = C_f[i, j] + S_s[i % 8, j]
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def gemm_dynamic_m(N, K, block_M=128, block_N=128, block_K=64, stages=3, disable_tma_on_A=False):
    """C = A @ B with M bound at call time: the tensor map's row count is read from A in the host code."""
    M = T.dynamic("M")

    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), C: T.Tensor((M, N), "float16")):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=256) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), "float16")
            B_s = T.alloc_shared((block_K, block_N), "float16")
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for ko in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[by * block_M, ko * block_K], A_s, disable_tma=disable_tma_on_A)
                T.copy(B[ko * block_K, bx * block_N], B_s)
                T.gemm(A_s, B_s, C_f)
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def _fp8():
    return load_example("gemm_fp8", "gemm_fp8_for_tma_tests")


# name: (program factory, TMA expected)
FORMS = {
    "plain": (lambda: _gemm(256, 256, 256), True),
    "A_T": (lambda: _gemm(256, 256, 256, trans_A=True), True),
    "B_T": (lambda: _gemm(256, 256, 256, trans_B=True), True),
    "A_T_B_T": (lambda: _gemm(256, 256, 256, trans_A=True, trans_B=True), True),
    "bf16": (lambda: _gemm(256, 256, 256, dtype="bfloat16"), True),
    "residual": (lambda: _gemm(256, 256, 256, residual=True), True),
    "block_K_32": (lambda: _gemm(256, 256, 256, block_K=32), True),
    "block_N_256": (lambda: bench.gemm(256, 512, 256), True),
    "ragged": (lambda: _gemm(200, 136, 120), True),
    "batched": (lambda: bench.batched_gemm(2, 256, 256, 128, block_N=128), True),
    "grouped": (lambda: bench.grouped_gemm(3, 320, 128, 128, 128, block_N=128), True),
    "swiglu": (lambda: bench.swiglu(256, 256, 128), True),
    "dynamic_m": (lambda: gemm_dynamic_m(256, 256), True),
    "fp8": (lambda: _fp8().fp8_linear.get_tir(256, 256, 256), True),
    # the int8 weight converted in registers (register_dequant.py): only the gemm reads the loaded tiles
    "int8_weight": (lambda: bench.int8_weight_gemm(256, 256, 128), True),
    # the threads' cast loop kept as written: they read the int8 tile, so cp.async stays (faster there, H200)
    "int8_weight_cast_loop": (lambda: bench.int8_weight_gemm(256, 256, 128), False),
    "flash_attention": (lambda: bench.flash_attention(1, 2, 256, 64, False), True),
    "flash_attention_causal": (lambda: bench.flash_attention(1, 2, 256, 64, True), True),
    # rows of 100 fp16 = 200 bytes: not a whole number of 16 bytes, so no tensor map; cp.async stays
    "k_rows_not_16_bytes": (lambda: _gemm(256, 256, 100), False),
}


@pytest.fixture(scope="module")
def sm90_sources():
    cache = {}

    def get(name):
        if name not in cache:
            # the ring alone (the producer warpgroup has tests of its own below)
            switches = {"TILEDSL_DISABLE_HOPPER_GEMM": "1", "TILEDSL_WARP_SPECIALIZE": "0"}
            if name == "int8_weight_cast_loop":
                switches["TILEDSL_REGISTER_DEQUANT"] = "0"
            with bench.switched_env(switches):
                cache[name] = tiledsl.compile(FORMS[name][0](), out_idx=[], target=SM90A).get_kernel_source()
        return cache[name]
    return get


def _kernel_body(src):
    return src.split("__global__", 2)[2] if src.count("__global__") > 1 else src.split("__global__", 1)[1]


def _has_cp_async(body) -> bool:
    return "tvm_builtin_ptx_cp_async_cg_" in body or "tvm_builtin_ptx_cp_async_ca_" in body


@pytest.mark.nvcc
@pytest.mark.parametrize("name", sorted(FORMS))
def test_pipelined_copies_use_tma_on_sm90a(name, sm90_sources):
    src = sm90_sources(name)
    body = _kernel_body(src)
    assert bench.gemm_instruction(src) == "wgmma"
    if FORMS[name][1]:
        assert "cp_async_bulk_tensor" in body and "mbarrier_arrive_expect_tx" in body
        assert "tvm_builtin_cuda_mbarrier_wait" in body and "mbarrier_init" in body
        assert "const __grid_constant__ CUtensorMap" in src
        assert not _has_cp_async(body) and "cp_async_wait_group" not in body
    else:
        assert "cp_async_bulk_tensor" not in body and "CUtensorMap" not in src
        assert _has_cp_async(body)


def test_lowering_records_how_each_pipeline_was_built(monkeypatch):
    import tvm
    from tiledsl.passes.pipeline import lower

    mod = tvm.IRModule({"main": FORMS["plain"][0]()})
    sm90 = tvm.target.Target(SM90A)
    assert lower(mod, sm90, allow_hopper_shortcut=False).kernel_info["pipelines"] == ["tma+warp_specialized"]
    assert lower(mod, sm90, allow_hopper_shortcut=False, allow_tma=False).kernel_info["pipelines"] == ["cp.async"]
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "0")
    assert lower(mod, sm90, allow_hopper_shortcut=False).kernel_info["pipelines"] == ["tma"]
    assert lower(mod, tvm.target.Target({"kind": "cuda", "arch": "sm_80"})).kernel_info["pipelines"] == ["cp.async"]


@pytest.mark.nvcc
def test_tma_ring_shape(sm90_sources):
    """4 stages, gemm-only loop: loads run 2 iterations ahead, one wgmma group stays in flight, a stage is released
    (empty barrier) after the next iteration's wgmma wait, and the producer waits for that release."""
    body = _kernel_body(sm90_sources("block_K_32"))  # K = 256, block_K 32: 8 iterations, the ring wraps
    loop = body.split("for (int k_p", 1)[1]
    assert "wgmma_wait_group_wait_group_sync_aligned_1();" in loop
    assert "mbarrier_arrive_arrive_shared_b64" in loop and "_empty_ptr" in loop
    loop = loop.split("wgmma_wait_group_wait_group_sync_aligned_0();", 1)[0]
    assert loop.count("cp_async_bulk_tensor") == 3  # A: one 64-byte-swizzled box; B [32, 128]: two 128-byte panels
    assert "mbarrier_wait((&(A_s_empty_ptr" in loop and "mbarrier_wait((&(A_s_full_ptr" in loop
    assert "__syncthreads" not in loop
    # the loads of a later iteration are issued before this iteration's wait, so they land during its compute
    assert loop.index("cp_async_bulk_tensor") < loop.index("mbarrier_wait((&(A_s_full_ptr")


@pytest.mark.nvcc
def test_swiglu_loads_the_shared_a_tile_once(sm90_sources):
    body = _kernel_body(sm90_sources("swiglu"))  # [64, 128] weight tiles: two 128-byte panels each
    n_a = body.count("&(A_tmap)")
    assert n_a >= 1 and body.count("&(Wg_tmap)") == 2 * n_a and body.count("&(Wu_tmap)") == 2 * n_a


@pytest.mark.nvcc
def test_a_tile_the_threads_read_keeps_its_loop_on_cp_async():
    """S_s is read element by element in the loop, not only by the gemm: the loop keeps cp.async (the int8-weight
    GEMM, whose threads read its weight tile, ran 1.6x slower with TMA on the H200)."""
    src = tiledsl.compile(gemm_with_scale(256, 256, 256), out_idx=[], target=SM90A).get_kernel_source()
    assert "S_tmap" not in src and "CUtensorMap" not in src and _has_cp_async(_kernel_body(src))


@pytest.mark.nvcc
def test_copy_with_disable_tma_keeps_its_loop_on_cp_async():
    """TileLang's T.copy(..., disable_tma=True): that copy does not take TMA, so its loop keeps cp.async (a ring
    needs every producer on TMA); the same program without it gets the ring."""
    def body(**kw):
        src = tiledsl.compile(gemm_dynamic_m(256, 320, **kw), out_idx=[], target=SM90A).get_kernel_source()
        return _kernel_body(src)
    assert "cp_async_bulk_tensor" in body()
    plain = body(disable_tma_on_A=True)
    assert "cp_async_bulk_tensor" not in plain and _has_cp_async(plain) and "wgmma_" in plain


@pytest.mark.nvcc
def test_tma_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("TILEDSL_DISABLE_TMA", "1")
    body = _kernel_body(tiledsl.compile(FORMS["plain"][0](), out_idx=[], target=SM90A).get_kernel_source())
    assert "cp_async_bulk_tensor" not in body and _has_cp_async(body) and "wgmma_" in body


@pytest.mark.nvcc
def test_tilelang_pass_configs_switch_tma_and_warp_specialization_off(monkeypatch):
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "1")
    prog = FORMS["plain"][0]()
    no_tma = tiledsl.compile(prog, out_idx=[], target=SM90A,
                             pass_configs={tiledsl.PassConfigKey.TL_DISABLE_TMA_LOWER: True}).get_kernel_source()
    assert "cp_async_bulk_tensor" not in no_tma and _has_cp_async(_kernel_body(no_tma))
    no_ws = tiledsl.compile(prog, out_idx=[], target=SM90A,
                            pass_configs={tiledsl.PassConfigKey.TL_DISABLE_WARP_SPECIALIZED: True}).get_kernel_source()
    assert "cp_async_bulk_tensor" in no_ws and "setmaxnreg" not in no_ws and "__launch_bounds__(256)" in no_ws


@pytest.mark.nvcc
def test_sm80_keeps_cp_async_and_mma_sync():
    src = tiledsl.compile(FORMS["plain"][0](), out_idx=[], target={"kind": "cuda", "arch": "sm_80"}) \
        .get_kernel_source()
    body = src.split("__global__", 1)[1]
    assert _has_cp_async(body) and "mma_sync_aligned_m16n8k16" in body
    assert "cp_async_bulk_tensor" not in body and "CUtensorMap" not in src and "wgmma" not in body


# ---------------------------------------------------------------- GPU correctness
def _poisoned(shape, dtype=torch.float16):
    return torch.full(shape, float("nan"), device="cuda", dtype=dtype)


def _gemm_on_gpu_matches_torch(M, N, K, kw):
    """Build ``_gemm(M, N, K, **kw)`` for the GPU, run it on fresh inputs (output poisoned with NaN) and check it
    against torch in float32; returns the kernel."""
    dtype = getattr(torch, kw.get("dtype", "float16"))
    kernel = tiledsl.compile(_gemm(M, N, K, **kw), out_idx=[], target="cuda")
    a = torch.randn((K, M) if kw.get("trans_A") else (M, K), device="cuda").to(dtype)
    b = torch.randn((N, K) if kw.get("trans_B") else (K, N), device="cuda").to(dtype)
    r = torch.randn(M, N, device="cuda").to(dtype)
    c = _poisoned((M, N), dtype)
    kernel(a, b, r, c)
    torch.cuda.synchronize()
    want = (a.float().T if kw.get("trans_A") else a.float()) @ (b.float().T if kw.get("trans_B") else b.float())
    if kw.get("residual"):
        want = want + r.float()
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.float(), want, rtol=2e-2, atol=2e-1)
    return kernel


GPU_GEMMS = {  # name: (M, N, K, kwargs)
    "plain_long_k": (256, 384, 1024, {}),          # 16 iterations: the 4-stage ring wraps 4 times
    "A_T": (256, 256, 512, {"trans_A": True}),
    "B_T": (256, 256, 512, {"trans_B": True}),
    "A_T_B_T": (256, 256, 384, {"trans_A": True, "trans_B": True}),
    "bf16": (256, 256, 512, {"dtype": "bfloat16"}),
    "block_K_32": (256, 256, 512, {"block_K": 32}),
    "block_N_256": (256, 512, 512, {"block_N": 256}),
    "ragged": (200, 136, 456, {}),                 # M, N, K not multiples of the tiles (K rows: 912 bytes)
    "ragged_A_T_B_T": (136, 200, 328, {"trans_A": True, "trans_B": True}),
    "k_shorter_than_ring": (256, 256, 120, {}),    # 2 iterations for 4 stages
    "k_one_tile": (128, 128, 64, {"stages": 3}),
    "two_stages": (256, 256, 512, {"stages": 2}),
    "residual": (256, 256, 512, {"residual": True}),
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(GPU_GEMMS))
def test_tma_gemm_matches_torch(name):
    M, N, K, kw = GPU_GEMMS[name]
    kernel = _gemm_on_gpu_matches_torch(M, N, K, kw)
    assert "cp_async_bulk_tensor" in kernel.get_kernel_source()


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["batched", "swiglu", "int8_weight_m16", "grouped"])
def test_tma_benchmark_programs_match_torch(name):
    case = bench.cases(small=True)[name]
    compiled = {k: tiledsl.compile(f, out_idx=[], target="cuda") for k, f in case.kernels.items()}
    # (the int8 weight converted in registers: its tile is a TMA box like the others)
    assert all("cp_async_bulk_tensor" in k.get_kernel_source() for k in compiled.values())
    inputs = case.make("cuda")
    err, ok = bench.check(case, case.bind(compiled, inputs), inputs)
    assert ok, f"{name}: relative error {err} (tolerance {case.tol}) or NaN"


@pytest.mark.gpu
@pytest.mark.parametrize("M", [256, 200])
def test_tma_dynamic_m_matches_torch(M):
    N, K = 256, 320
    kernel = tiledsl.compile(gemm_dynamic_m(N, K), out_idx=[], target="cuda")
    assert "cp_async_bulk_tensor" in kernel.get_kernel_source()
    a, b = torch.randn(M, K, device="cuda").half(), torch.randn(K, N, device="cuda").half()
    c = _poisoned((M, N))
    kernel(a, b, c)
    torch.cuda.synchronize()
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.float(), a.float() @ b.float(), rtol=2e-2, atol=2e-1)


@pytest.mark.gpu
def test_tma_fp8_gemm_matches_torch():
    fp8 = _fp8()
    M, N, K = 256, 512, 384
    kernel = tiledsl.compile(fp8.fp8_linear.get_tir(M, N, K), out_idx=[], target="cuda")
    assert "cp_async_bulk_tensor" in kernel.get_kernel_source()
    a = torch.randn(M, K, device="cuda").to(torch.float8_e4m3fn)
    b = (torch.randn(N, K, device="cuda") / 4).to(torch.float8_e4m3fn)
    bias = torch.randn(N, device="cuda")
    c = _poisoned((M, N), torch.bfloat16)
    kernel(a, b, 0.5, bias, c)
    torch.cuda.synchronize()
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.double(), fp8.reference(a, b, 0.5, bias), rtol=2e-2, atol=5e-2)


@pytest.mark.gpu
def test_gemm_with_a_tile_the_threads_read_matches_torch():
    M, N, K = 256, 256, 320
    kernel = tiledsl.compile(gemm_with_scale(M, N, K), out_idx=[], target="cuda")
    a, b = torch.randn(M, K, device="cuda").half(), torch.randn(K, N, device="cuda").half()
    s = torch.randn(8, N, device="cuda")
    c = _poisoned((M, N))
    kernel(a, b, s, c)
    torch.cuda.synchronize()
    want = a.float() @ b.float() + (K // 64) * s.repeat(M // 8, 1)
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.float(), want, rtol=2e-2, atol=2e-1)


@pytest.mark.gpu
@pytest.mark.parametrize("causal,S", [(False, 384), (True, 384), (False, 200), (True, 72)])
def test_tma_flash_attention_matches_torch(causal, S):
    kernel = _flash_attention_on_gpu_matches_torch(causal, S)
    assert "cp_async_bulk_tensor" in kernel.get_kernel_source()


def _flash_attention_on_gpu_matches_torch(causal, S):
    """The benchmark's flash attention (B 1, H 2, D 64) checked against torch on the GPU; returns the kernel."""
    return bench.check_flash_attention_on_gpu(1, 2, S, 64, causal)


# ---------------------------------------------------------------- warp specialization
def gemm_with_bound_origin(M, N, K, block_M=128, block_N=128, block_K=64, stages=4):
    """The canonical GEMM with the tile origins held in per-thread values: the producer warpgroup would not have
    them, so this loop keeps the ring without warp specialization."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), C: T.Tensor((M, N), "float16")):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=256) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), "float16")
            B_s = T.alloc_shared((block_K, block_N), "float16")
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            row0 = by * block_M
            col0 = bx * block_N
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[row0, k * block_K], A_s)
                T.copy(B[k * block_K, col0], B_s)
                T.gemm(A_s, B_s, C_f)
            T.copy(C_f, C[row0, col0])
    return kernel


WS_FORMS = {  # name: (program factory, warp-specialized expected)
    "bound_origin": (lambda: gemm_with_bound_origin(256, 256, 512), False),
    "plain": (lambda: _gemm(256, 256, 1024), True),
    "A_T_B_T_bf16": (lambda: _gemm(256, 256, 512, trans_A=True, trans_B=True, dtype="bfloat16"), True),
    "one_warpgroup": (lambda: _gemm(256, 256, 512, threads=128), True),
    "batched": (lambda: bench.batched_gemm(2, 256, 256, 512, block_N=128), True),
    "swiglu": (lambda: bench.swiglu(256, 256, 512), True),
    # not taken: the loop sits under a branch (grouped), the loop computes more than gemms (attention)
    "grouped": (lambda: bench.grouped_gemm(3, 320, 128, 128, 128, block_N=128), False),
    "flash_attention": (lambda: bench.flash_attention(1, 2, 256, 64, False), False),
}


@pytest.fixture(scope="module")
def ws_sources():
    cache = {}

    def get(name):
        if name not in cache:
            with bench.switched_env({"TILEDSL_DISABLE_HOPPER_GEMM": "1", "TILEDSL_WARP_SPECIALIZE": "1"}):
                cache[name] = tiledsl.compile(WS_FORMS[name][0](), out_idx=[], target=SM90A).get_kernel_source()
        return cache[name]
    return get


@pytest.mark.nvcc
@pytest.mark.parametrize("name", sorted(WS_FORMS))
def test_warp_specialized_split(name, ws_sources):
    src = ws_sources(name)
    body = _kernel_body(src)
    assert "cp_async_bulk_tensor" in body and "wgmma_" in body
    if not WS_FORMS[name][1]:
        assert "<= ((int)threadIdx.x))" not in body and "setmaxnreg" not in body
        return
    threads = 128 if name == "one_warpgroup" else 256
    assert f"__launch_bounds__({threads + 128})" in src
    head, tail = body.split(f"if ({threads} <= ((int)threadIdx.x)) {{", 1)
    producer, consumers = tail.split("} else {", 1)
    assert "__syncthreads" in head and "mbarrier_init" in head  # the ring is set up before the split
    # the producer issues every load, waiting for released stages; the consumers only wait, compute and release
    assert "cp_async_bulk_tensor" in producer and "mbarrier_wait((&(" in producer and "_empty_ptr" in producer
    assert "cp_async_bulk_tensor_g2s" not in consumers and "mbarrier_arrive_arrive_shared_b64" in consumers
    assert "wgmma_wait_group_wait_group_sync_aligned_1" in consumers
    assert "__syncthreads" not in tail  # no block-wide barrier the exited producer warps would not reach
    if threads == 256:
        assert "setmaxnreg_dec_sync_aligned_u32_56" in producer and "setmaxnreg_inc_sync_aligned_u32_224" in consumers


WS_GPU = {  # name: (M, N, K, kwargs)
    "plain": (256, 384, 1024, {}),
    "ragged": (200, 136, 456, {}),
    "k_shorter_than_ring": (256, 256, 120, {}),
    "A_T_B_T": (256, 256, 384, {"trans_A": True, "trans_B": True}),
    "bf16_residual": (256, 256, 512, {"dtype": "bfloat16", "residual": True}),
    "one_warpgroup": (256, 256, 512, {"threads": 128}),
    "block_N_256": (256, 512, 512, {"block_N": 256}),
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(WS_GPU))
def test_warp_specialized_gemm_matches_torch(name, monkeypatch):
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "1")
    M, N, K, kw = WS_GPU[name]
    kernel = _gemm_on_gpu_matches_torch(M, N, K, kw)
    assert "setmaxnreg" in kernel.get_kernel_source() or kw.get("threads") == 128


@pytest.mark.gpu
def test_tma_bound_origin_matches_torch(monkeypatch):
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "1")
    M, N, K = 256, 384, 640
    kernel = tiledsl.compile(gemm_with_bound_origin(M, N, K), out_idx=[], target="cuda")
    assert "cp_async_bulk_tensor" in kernel.get_kernel_source()
    a, b = torch.randn(M, K, device="cuda").half(), torch.randn(K, N, device="cuda").half()
    c = _poisoned((M, N))
    kernel(a, b, c)
    torch.cuda.synchronize()
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.float(), a.float() @ b.float(), rtol=2e-2, atol=2e-1)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["batched", "swiglu"])
def test_warp_specialized_programs_match_torch(name, monkeypatch):
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "1")
    test_tma_benchmark_programs_match_torch(name)


@pytest.mark.parametrize("name", ["plain", "A_T_B_T", "block_K_32", "batched", "swiglu", "int8_weight",
                                  "flash_attention_causal", "fp8"])
def test_predicted_tile_layouts_are_the_lowered_ones(name):
    """TMA writes the swizzle PipelineCUDA predicts; LowerTileOpsCUDA must lay the staged tiles out the same way."""
    import tvm
    from tiledsl.passes.cuda import PipelineCUDA, SwizzleBlocks
    from tiledsl.passes.cuda.lower_tile_ops import _Lowerer, thread_launches
    from tiledsl.passes.cuda.pipeline import shared_tile_layouts

    mod = tvm.IRModule({"main": FORMS[name][0]()})
    with tvm.target.Target(SM90A):
        mod = SwizzleBlocks(mod)
        nthreads = 1
        for _, ext in thread_launches(mod["main"].body):
            nthreads *= ext
        predicted = {b.name: lay for b, lay in shared_tile_layouts(mod["main"].body, nthreads).items()}
        staged = PipelineCUDA(mod)["main"]
        lowered = {b.name: lay for b, lay in _Lowerer(staged.body).swizzled.items()}
    assert predicted and all(lowered.get(n) == lay for n, lay in predicted.items())


@pytest.mark.gpu
def test_tma_kernel_names_a_misaligned_view():
    """A tensor starting 8 bytes into its storage cannot be described to TMA: the call names the argument (the
    driver's refusal is not passed on raw), and an aligned copy of the same values runs correctly. One 16 bytes in
    can, and runs correctly."""
    M, N, K = 256, 256, 320
    kernel = tiledsl.compile(gemm_dynamic_m(N, K), out_idx=[], target="cuda")
    assert "cp_async_bulk_tensor" in kernel.get_kernel_source()
    a = torch.randn(M * K + 4, device="cuda").half()[4:].view(M, K)
    b = torch.randn(K, N, device="cuda").half()
    c = _poisoned((M, N))
    with pytest.raises(tiledsl.KernelArgumentError, match=r"argument 0 \(A\).*not 16-byte aligned.*clone"):
        kernel(a, b, c)
    kernel(a.clone(), b, c)
    torch.cuda.synchronize()
    torch.testing.assert_close(c.float(), a.float() @ b.float(), rtol=2e-2, atol=2e-1)
    a16 = torch.randn(M * K + 8, device="cuda").half()[8:].view(M, K)
    c = _poisoned((M, N))
    kernel(a16, b, c)
    torch.cuda.synchronize()
    torch.testing.assert_close(c.float(), a16.float() @ b.float(), rtol=2e-2, atol=2e-1)


def test_tma_rejection_is_explained_by_argument():
    """The explanation of a refused tensor map names the misaligned tensor (CPU tensors stand in for the
    addresses: the logic reads only data_ptr and storage_offset)."""
    from tiledsl.runtime.args import explain_rejection
    from tiledsl.runtime.params import KernelParam

    params = [KernelParam(name="A", dtype="float16", shape=(4, 8)),
              KernelParam(name="B", dtype="float16", shape=(8, 4))]
    good = torch.zeros(8, 4, dtype=torch.float16)
    view = torch.zeros(64, dtype=torch.float16)[4:36].view(4, 8)
    assert view.data_ptr() % 16 == 8  # torch aligns the storage itself to 64 bytes
    refusal = RuntimeError("Error in cuTensorMapEncodeTiled: globalAddress must be 16-byte aligned")
    err = explain_rejection(params, [view, good], "cpu", refusal)
    assert isinstance(err, tiledsl.KernelArgumentError) and "argument 0 (A)" in str(err)
    # TVM checks the address itself before the driver sees it (what the H200 raised for an 8-byte offset)
    tvm_check = RuntimeError("Check failed: (reinterpret_cast<uint64_t>(tensor_ptr) & 0b1111) == 0 (8 vs. 0) :")
    err = explain_rejection(params, [view, good], "cpu", tvm_check)
    assert isinstance(err, tiledsl.KernelArgumentError) and "argument 0 (A)" in str(err)
    err = explain_rejection(params, [good.view(4, 8), good], "cpu", refusal)
    assert isinstance(err, tiledsl.KernelArgumentError) and "TILEDSL_TMA=0" in str(err)


def gemm_with_flat_b(M, N, K, block_M=128, block_N=128, block_K=64, stages=3):
    """C = A @ B with B passed flat and viewed as [K, N] inside the kernel (TileLang's convolution does this)."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B_flat: T.Tensor((K * N,), "float16"), C: T.Tensor((M, N), "float16")):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=256) as (bx, by):
            B = T.Tensor((K, N), "float16", B_flat.data)
            A_s = T.alloc_shared((block_M, block_K), "float16")
            B_s = T.alloc_shared((block_K, block_N), "float16")
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[by * block_M, k * block_K], A_s)
                T.copy(B[k * block_K, bx * block_N], B_s)
                T.gemm(A_s, B_s, C_f)
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


@pytest.mark.nvcc
def test_a_view_declared_in_the_kernel_keeps_its_loop_on_cp_async():
    """The host function, where tensor maps are encoded, has no such view: the loop keeps cp.async."""
    body = _kernel_body(tiledsl.compile(gemm_with_flat_b(256, 256, 256), out_idx=[], target=SM90A).get_kernel_source())
    assert "cp_async_bulk_tensor" not in body and _has_cp_async(body) and "wgmma_" in body


def test_a_view_declared_in_the_kernel_on_the_cpu():
    a, b = torch.randn(128, 192).half(), torch.randn(192, 128).half()
    c = torch.full((128, 128), float("nan")).half()
    tiledsl.compile(gemm_with_flat_b(128, 128, 192), out_idx=[], target="llvm")(a, b.reshape(-1), c)
    torch.testing.assert_close(c.float(), a.float() @ b.float(), rtol=2e-2, atol=2e-1)


@pytest.mark.gpu
def test_a_view_declared_in_the_kernel_on_the_gpu():
    M, N, K = 256, 384, 320
    kernel = tiledsl.compile(gemm_with_flat_b(M, N, K), out_idx=[], target="cuda")
    a, b = torch.randn(M, K, device="cuda").half(), torch.randn(K, N, device="cuda").half()
    c = _poisoned((M, N))
    kernel(a, b.reshape(-1), c)
    torch.cuda.synchronize()
    torch.testing.assert_close(c.float(), a.float() @ b.float(), rtol=2e-2, atol=2e-1)


# ---------------------------------------------------------------- persistent grid (warp-specialized kernels)
@pytest.mark.nvcc
@pytest.mark.parametrize("setting", ["1", "0", "5"])
def test_a_warp_specialized_kernel_walks_its_tiles_on_a_persistent_grid(setting, monkeypatch):
    """232 tiles: one CTA per SM (132 on a GPU-less build for sm_90a), one CTA per tile with
    TILEDSL_PERSISTENT=0, at most 5 CTAs with TILEDSL_PERSISTENT=5."""
    monkeypatch.setenv("TILEDSL_PERSISTENT", setting)
    kernel = tiledsl.compile(_gemm(1000, 1800, 200, block_N=64), out_idx=[], target=SM90A)
    body = _kernel_body(kernel.get_kernel_source())
    producer, consumers = body.split("if (256 <= ((int)threadIdx.x)) {", 1)[1].split("} else {", 1)
    if setting == "0":
        assert "tile_iter" not in body and "blockIdx.y" in body
        return
    ctas = 5 if setting == "5" else warp_specialize._num_sms()
    # both warpgroups loop over the CTA's tiles; the ring counts on across them; no block index but the CTA's
    assert f"((231 - ((int)blockIdx.x)) / {ctas}) + 1" in producer
    assert f"((231 - ((int)blockIdx.x)) / {ctas}) + 1" in consumers
    assert "blockIdx.y" not in body and "tile_iter" in producer
    # the consumers release the last stage of each tile (the producer's next tile waits for it)
    assert consumers.count("mbarrier_arrive_arrive_shared_b64") == 2


PERSISTENT_GPU = {  # name: (M, N, K, kwargs, TILEDSL_PERSISTENT)
    "one_cta_per_sm_ragged": (1000, 1800, 200, {"block_N": 64}, "1"),  # 232 tiles on <= 132 CTAs
    "five_ctas_short_k": (512, 640, 120, {}, "5"),  # 20 tiles on 5 CTAs, 2 iterations of a 4-stage ring
    "seven_ctas_long_k": (640, 384, 1000, {"stages": 3}, "7"),  # 15 tiles on 7 CTAs, ragged K
    "three_ctas_residual_A_T": (384, 512, 256, {"residual": True, "trans_A": True}, "3"),
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(PERSISTENT_GPU))
def test_persistent_gemm_matches_torch(name, monkeypatch):
    M, N, K, kw, setting = PERSISTENT_GPU[name]
    monkeypatch.setenv("TILEDSL_PERSISTENT", setting)
    kernel = _gemm_on_gpu_matches_torch(M, N, K, kw)
    assert "tile_iter" in kernel.get_kernel_source()


@pytest.mark.gpu
def test_persistent_batched_gemm_matches_torch(monkeypatch):
    """Three block dimensions folded into one tile counter: 4 x 2 x 3 tiles on 5 CTAs."""
    monkeypatch.setenv("TILEDSL_PERSISTENT", "5")
    kernel = tiledsl.compile(bench.batched_gemm(4, 256, 384, 512, block_N=128), out_idx=[], target="cuda")
    assert "tile_iter" in kernel.get_kernel_source()
    a, b = torch.randn(4, 256, 512, device="cuda").half(), torch.randn(4, 512, 384, device="cuda").half()
    c = _poisoned((4, 256, 384))
    kernel(a, b, c)
    torch.cuda.synchronize()
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.float(), a.float() @ b.float(), rtol=2e-2, atol=2e-1)


# ---------------------------------------------------------------- TMA-store epilogue (TILEDSL_TMA_STORE=1)
def _tma_store_source(monkeypatch, program):
    monkeypatch.setenv("TILEDSL_TMA_STORE", "1")
    return tiledsl.compile(program, out_idx=[], target=SM90A).get_kernel_source()


@pytest.mark.nvcc
@pytest.mark.parametrize("name", ["plain", "batched", "residual", "swiglu", "ragged"])
def test_the_epilogue_of_a_warp_specialized_kernel_becomes_tma_stores(name, monkeypatch):
    program = {"plain": lambda: bench.gemm(512, 512, 256),  # 128 x 256 tiles, 4 stages: 224 KiB with staging
               "batched": lambda: bench.batched_gemm(2, 256, 256, 512, block_N=128),
               "residual": lambda: _gemm(256, 256, 512, residual=True),
               "swiglu": lambda: bench.swiglu(256, 256, 512),
               "ragged": lambda: _gemm(200, 136, 456)}[name]()
    src = _tma_store_source(monkeypatch, program)
    body = _kernel_body(src)
    consumers = body.split("} else {", 1)[1]
    # 64 columns at a time: wait until the staging tile of two chunks ago was read, named barrier, swizzled
    # shared writes, proxy fence, barrier, one thread stores; nothing but the named barrier among the consumers
    assert "cp_async_bulk_tensor_s2g" in consumers and "bulk_commit_group" in consumers
    assert "wait_group_read_1" in consumers and "wait_group_read_0" in consumers
    assert "bar_sync_count_sync((uint)1" in consumers and "__syncthreads" not in consumers
    assert re.search(r"\(half2\*\)\(\w+_staging0 \+", consumers) or \
        re.search(r"\(nv_bfloat162\*\)\(\w+_staging0 \+", consumers)  # two elements per shared store
    assert "C_ptr" not in consumers
    assert src.count("CUtensorMap") >= 3  # the result's tensor map is made by the host, as the loads' are


def _gemm_reading_its_result(M, N, K, through_shared: bool):
    """A GEMM (128 x 128 tiles) whose result is read again after the loop: from C itself (added into the
    accumulator before the store), or, ``through_shared``, from the shared tile it is staged through (copied to D
    as well)."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), C: T.Tensor((M, N), "float16"),
               D: T.Tensor((M, N), "float16")):
        with T.Kernel(T.ceildiv(N, 128), T.ceildiv(M, 128), threads=256) as (bx, by):
            A_s = T.alloc_shared((128, 64), "float16")
            B_s = T.alloc_shared((64, 128), "float16")
            C_f = T.alloc_fragment((128, 128), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, 64), num_stages=3):
                T.copy(A[by * 128, k * 64], A_s)
                T.copy(B[k * 64, bx * 128], B_s)
                T.gemm(A_s, B_s, C_f)
            if through_shared:
                C_s = T.alloc_shared((128, 128), "float16")
                T.copy(C_f, C_s)
                T.copy(C_s, C[by * 128, bx * 128])
                T.copy(C_s, D[by * 128, bx * 128])
            else:
                for i, j in T.Parallel(128, 128):
                    C_f[i, j] = C_f[i, j] + C[by * 128 + i, bx * 128 + j]
                T.copy(C_f, C[by * 128, bx * 128])
    return kernel


@pytest.mark.nvcc
def test_a_result_the_kernel_also_reads_keeps_its_plain_stores(monkeypatch):
    """The TMA store completes after the kernel moved on: a tensor the kernel also reads keeps per-thread stores."""
    body = _kernel_body(_tma_store_source(monkeypatch, _gemm_reading_its_result(256, 256, 256, False)))
    assert "setmaxnreg" in body and "cp_async_bulk_tensor_s2g" not in body


@pytest.mark.nvcc
def test_a_tile_without_room_for_staging_keeps_its_plain_stores(monkeypatch):
    """128 x 192 tiles with 5 stages take 200 KiB: no room left for the two 16 KiB staging tiles."""
    body = _kernel_body(_tma_store_source(monkeypatch, bench.gemm(256, 384, 512, block_N=192, stages=5)))
    assert "setmaxnreg" in body and "cp_async_bulk_tensor_s2g" not in body
    body = _kernel_body(_tma_store_source(monkeypatch, bench.gemm(256, 384, 512, block_N=192, stages=4)))
    assert "cp_async_bulk_tensor_s2g" in body


TMA_STORE_GPU = {  # name: (M, N, K, kwargs, TILEDSL_PERSISTENT)
    "plain": (256, 384, 1024, {}, "1"),
    "ragged": (200, 136, 456, {}, "1"),  # the hardware clips the rows and columns past M and N
    "bf16_residual": (256, 256, 512, {"dtype": "bfloat16", "residual": True}, "1"),
    "A_T_B_T": (256, 256, 384, {"trans_A": True, "trans_B": True}, "1"),
    "block_N_256": (256, 512, 512, {"block_N": 256}, "1"),
    "one_warpgroup": (256, 256, 512, {"threads": 128}, "1"),
    "five_ctas_ragged": (1000, 1800, 200, {"block_N": 64}, "5"),  # staging reused across tiles
    "not_persistent": (640, 384, 1000, {"stages": 3}, "0"),
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(TMA_STORE_GPU))
def test_tma_store_epilogue_matches_torch(name, monkeypatch):
    M, N, K, kw, setting = TMA_STORE_GPU[name]
    monkeypatch.setenv("TILEDSL_TMA_STORE", "1")
    monkeypatch.setenv("TILEDSL_PERSISTENT", setting)
    kernel = _gemm_on_gpu_matches_torch(M, N, K, kw)
    assert "cp_async_bulk_tensor_s2g" in kernel.get_kernel_source()


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["int8", "float16"])
@pytest.mark.parametrize("M,N,K", [(256, 384, 512), (200, 136, 320)])
def test_tma_store_of_4_byte_results_matches_torch(dtype, M, N, K, monkeypatch):
    """int32 (W8A8) and float32 results leave through the TMA-store epilogue, 32 columns per panel; ragged sizes
    are clipped by the hardware. Exact for integers; float32 against a float64 product."""
    from test_wgmma_more_types import integer_gemm_matches, typed_gemm
    acc = "int32" if dtype == "int8" else "float32"
    kernel = tiledsl.compile(typed_gemm(M, N, K, dtype, dtype, acc_dtype=acc), out_idx=[], target="cuda")
    assert "cp_async_bulk_tensor_s2g" in kernel.get_kernel_source()
    if dtype == "int8":
        assert integer_gemm_matches(kernel, M, N, K, "cuda")
        return
    a = torch.randn(M, K, device="cuda").half()
    b = torch.randn(N, K, device="cuda").half()
    c = torch.full((M, N), float("nan"), device="cuda")
    kernel(a, b, c)
    torch.cuda.synchronize()
    torch.testing.assert_close(c.double(), a.double() @ b.double().T, rtol=1e-4, atol=1e-3)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["batched", "swiglu", "grouped"])
def test_tma_store_benchmark_programs_match_torch(name, monkeypatch):
    monkeypatch.setenv("TILEDSL_TMA_STORE", "1")
    test_tma_benchmark_programs_match_torch(name)


def test_guards_that_cannot_split_a_vector_group_are_evaluated_at_its_first_lane():
    """Every bound on ``2 r + lane`` (lane < 2), either way round: rewritten exactly when the split point is even,
    and then equal to the original for every r and lane."""
    from tvm import tirx
    from tvm.ir import Range
    from tvm.sym import Analyzer

    from tiledsl.passes.cuda.parallel import lane_free_guards
    from tiledsl.passes.rewriter import substitute

    lane, r = tirx.Var("lane", "int32"), tirx.Var("r", "int32")
    ana = Analyzer()
    ana.bind(lane, Range.from_min_extent(0, 2))
    ana.bind(r, Range.from_min_extent(0, 64))
    e, body = r * 2 + lane, tirx.Evaluate(tirx.const(0, "int32"))
    rewritten = 0
    for op in (tirx.LT, tirx.LE, tirx.GT, tirx.GE):
        for b in range(9):
            for left in (True, False):
                cond = op(e, tirx.const(b, "int32")) if left else op(tirx.const(b, "int32"), e)
                new = lane_free_guards(tirx.IfThenElse(cond, body, None), lane, 2, ana).condition
                if new.same_as(cond):
                    continue
                rewritten += 1
                assert "lane" not in str(new)
                for rv in range(6):
                    for lv in range(2):
                        at = {r: tirx.const(rv, "int32"), lane: tirx.const(lv, "int32")}
                        assert int(ana.simplify(substitute(cond, at))) == int(ana.simplify(substitute(new, at)))
    assert rewritten == 36  # half the cases: those whose split point is even


@pytest.mark.parametrize("raw,want", [("", 0), ("1", 0), ("on", 0), ("0", None), ("off", None), ("7", 7)])
def test_the_persistent_grid_setting(raw, want, monkeypatch):
    from tiledsl import config

    monkeypatch.setenv("TILEDSL_PERSISTENT", raw)
    assert config.persistent_grid_ctas() == want


@pytest.mark.parametrize("raw", ["-3", "many"])
def test_a_bad_persistent_grid_setting_is_named(raw, monkeypatch):
    from tiledsl import config

    monkeypatch.setenv("TILEDSL_PERSISTENT", raw)
    with pytest.raises(ValueError, match="TILEDSL_PERSISTENT"):
        config.persistent_grid_ctas()


@pytest.mark.nvcc
def test_a_result_staged_through_shared_memory_is_stored_by_tma(monkeypatch):
    """``T.copy(acc, C_shared); T.copy(C_shared, C)``: with TMA stores (the default), the pair is the direct copy
    (C_shared is not allocated), so the kernel is warp-specialized and stores through its own staging tiles; with
    ``TILEDSL_TMA_STORE=0`` and only gemm-only loops warp-specialized it keeps its form (a TMA ring, no producer
    warpgroup: the shared tile needs a whole-block barrier)."""
    monkeypatch.setenv("TILEDSL_TMA_STORE", "0")
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "1")
    staged = _gemm(1024, 1024, 512, stages=3, staged=True)
    src = tiledsl.compile(staged, out_idx=[], target=SM90A).get_kernel_source()
    assert "half* C_s =" in src and "setmaxnreg" not in src and "cp_async_bulk_tensor_s2g" not in src
    monkeypatch.delenv("TILEDSL_WARP_SPECIALIZE")
    src = _tma_store_source(monkeypatch, _gemm(1024, 1024, 512, stages=3, staged=True))
    assert "half* C_s =" not in src and "setmaxnreg" in src and "cp_async_bulk_tensor_s2g" in src
    # a staging tile that serves another copy stays
    src = _tma_store_source(monkeypatch, _gemm_reading_its_result(1024, 1024, 512, through_shared=True))
    assert "half* C_s =" in src and "cp_async_bulk_tensor_s2g" not in src


@pytest.mark.gpu
@pytest.mark.parametrize("setting", ["1", "3"])
def test_a_staged_result_stored_by_tma_matches_torch(setting, monkeypatch):
    monkeypatch.setenv("TILEDSL_TMA_STORE", "1")
    monkeypatch.setenv("TILEDSL_PERSISTENT", setting)
    kernel = _gemm_on_gpu_matches_torch(384, 640, 320, {"stages": 3, "staged": True})
    assert "cp_async_bulk_tensor_s2g" in kernel.get_kernel_source()


# ---------------------------------------------------------------- TILEDSL_WARP_SPECIALIZE=all (attention)
@pytest.mark.nvcc
@pytest.mark.parametrize("causal", [False, True])
def test_attention_is_warp_specialized_with_the_all_setting(causal, monkeypatch):
    """With ``all`` (the default): the producer loads Q (on a barrier of its own) and every K/V stage; the
    consumers wait for Q, then per stage: wait, QK^T, the softmax in registers (quad shuffles), PV with P from
    registers, release (the deferred gemm off here: it keeps PV in the iteration). ``TILEDSL_WARP_SPECIALIZE=1``
    (gemm-only loops) keeps the ring without a producer warpgroup."""
    monkeypatch.setenv("TILEDSL_DEFER_LAST_GEMM", "0")
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "1")
    program = bench.flash_attention(2, 8, 1024, 128, causal)
    src = tiledsl.compile(program, out_idx=[], target=SM90A).get_kernel_source()
    assert "setmaxnreg" not in src and "cp_async_bulk_tensor" in src
    monkeypatch.delenv("TILEDSL_WARP_SPECIALIZE")
    kernel = tiledsl.compile(bench.flash_attention(2, 8, 1024, 128, causal), out_idx=[], target=SM90A)
    assert kernel.kernel_info["pipelines"] == ["tma+warp_specialized"]
    body = _kernel_body(kernel.get_kernel_source())
    head, tail = body.split("if (256 <= ((int)threadIdx.x)) {", 1)
    producer, consumers = tail.split("} else {", 1)
    assert "Q_shared_full" in head and "__syncthreads" in head
    assert producer.count("cp_async_bulk_tensor") >= 3 and "Q_shared_full" in producer
    assert "cp_async_bulk_tensor_g2s" not in consumers and "mbarrier_wait((&(Q_shared_full_ptr[0])), 0)" in consumers
    assert "__shfl_xor_sync" in consumers and "__syncthreads" not in consumers
    assert "wgmma_f16_rs" in consumers or "_rs_" in consumers  # P from registers
    assert "tile_iter" not in body  # loads before the loop: one CTA per tile


@pytest.mark.nvcc
def test_a_loop_whose_consumers_need_shared_scratch_falls_back(monkeypatch):
    """With TILEDSL_WARP_SPECIALIZE=all, a loop whose lowered consumers need a shared pass (column sums: every
    warp holds part of each column) is lowered again without warp specialization."""
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "all")
    M = N = K = 256

    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), C: T.Tensor((M, N), "float16"),
               R: T.Tensor((M,), "float32")):
        with T.Kernel(T.ceildiv(N, 128), T.ceildiv(M, 128), threads=256) as (bx, by):
            A_s = T.alloc_shared((128, 64), "float16")
            B_s = T.alloc_shared((64, 128), "float16")
            C_f = T.alloc_fragment((128, 128), "float32")
            s = T.alloc_fragment((128,), "float32")
            r = T.alloc_fragment((128,), "float32")
            T.clear(C_f)
            T.clear(r)
            for k in T.Pipelined(T.ceildiv(K, 64), num_stages=3):
                T.copy(A[by * 128, k * 64], A_s)
                T.copy(B[k * 64, bx * 128], B_s)
                T.gemm(A_s, B_s, C_f)
                T.reduce_sum(C_f, s, dim=0)
                for i in T.Parallel(128):
                    r[i] = r[i] + s[i]
            T.copy(C_f, C[by * 128, bx * 128])
            if bx == 0:
                T.copy(r, R[by * 128])
    from tiledsl.passes.cuda import warp_specialize
    refused = []
    split = warp_specialize._split

    def watched(launch):
        try:
            return split(launch)
        except warp_specialize.WarpSpecializationRefused as err:
            refused.append(err)
            raise
    monkeypatch.setattr(warp_specialize, "_split", watched)
    monkeypatch.setenv("TILEDSL_DISABLE_CACHE", "1")
    kernel_ = tiledsl.compile(kernel, out_idx=[], target=SM90A)
    src = kernel_.get_kernel_source()
    assert refused and "cp_async_bulk_tensor" in src and "setmaxnreg" not in src
    assert kernel_.kernel_info["pipelines"] == ["tma"]


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["all", "pingpong"])
@pytest.mark.parametrize("causal,S", [(False, 384), (True, 384), (False, 200), (True, 72)])
def test_warp_specialized_flash_attention_matches_torch(causal, S, mode, monkeypatch):
    """Without the deferred gemm (``test_deferred_gemm.py`` runs both together)."""
    monkeypatch.setenv("TILEDSL_DEFER_LAST_GEMM", "0")
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", mode)
    kernel = _flash_attention_on_gpu_matches_torch(causal, S)
    assert kernel.kernel_info["pipelines"] == ["tma+warp_specialized"]
    assert ("bar_arrive_arrive" in kernel.get_kernel_source()) == (mode == "pingpong")  # the turns' arrivals


@pytest.mark.nvcc
def test_pingpong_turns_end_before_their_gemms_are_waited_for(monkeypatch):
    """Every turn (before the loop, in it, after it) hands over right after its gemms are committed, and only then
    waits for them: the other warpgroup issues its gemm while this one's runs (the first and the last turn of a
    tile used to wait inside the turn)."""
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "pingpong")
    src = tiledsl.compile(bench.flash_attention(2, 8, 1024, 128, False), out_idx=[], target=SM90A).get_kernel_source()
    lines = [line.strip() for line in _kernel_body(src).splitlines()
             if not re.match(r"\s*(u?int|uint64_t) cse_v\d+ = ", line)]  # (TVM's unused common subexpressions)
    handovers = [k for k, line in enumerate(lines) if line.startswith("tvm_builtin_ptx_bar_arrive_arrive(((uint)(3 -")]
    assert len(handovers) == 3  # the first turn, the loop's turn, the last turn
    for k in handovers:
        assert lines[k - 1] == "tvm_builtin_ptx_wgmma_commit_group_commit_group_sync_aligned();", lines[k - 1]
        assert lines[k + 1].startswith("tvm_builtin_ptx_wgmma_wait_group_wait_group_sync_aligned_"), lines[k + 1]


@pytest.mark.nvcc
def test_pingpong_puts_each_gemm_in_its_warpgroups_turn(monkeypatch):
    """TILEDSL_WARP_SPECIALIZE=pingpong: warpgroup 1 arrives once at warpgroup 0's barrier (2) before the loop;
    in the loop each gemm runs after bar.sync on the own barrier (2 + wg) and before bar.arrive on the other's
    (3 - wg): two turns per iteration per warpgroup, so every sync has its arrival."""
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "pingpong")
    src = tiledsl.compile(bench.flash_attention(2, 8, 1024, 128, False), out_idx=[], target=SM90A).get_kernel_source()
    consumers = _kernel_body(src).split("} else {", 1)[1]
    before, loop = consumers.split("for (int k_p", 1)
    assert "if ((((int)threadIdx.x) >> 7) == 1) {\n      tvm_builtin_ptx_bar_arrive_arrive((uint)2, (uint)256);" in before
    loop = loop.split("wgmma_wait_group_wait_group_sync_aligned_0();\n  }", 1)[0]
    # (the barrier ids through the warp-uniform index, passes/cuda/warp_index.py)
    syncs = [m.start() for m in re.finditer(r"bar_sync_count_sync\(\(\(uint\)\(\(warp_id >> 2\) \+ 2\)\)", loop)]
    arrives = [m.start() for m in re.finditer(r"bar_arrive_arrive\(\(\(uint\)\(3 - \(warp_id >> 2\)\)\)", loop)]
    gemms = [m.start() for m in re.finditer(r"wgmma_f16_(ss|rs)_mma_async[^(]*\(acc_s_ptr\[0\]|wgmma_f16_(ss|rs)_mma_async[^(]*\(acc_o_ptr\[0\]", loop)]
    assert len(syncs) == len(arrives) == 2 and gemms
    first_s = [g for g in gemms if g < arrives[0]]
    assert syncs[0] < min(first_s) and max(first_s) < arrives[0] < syncs[1] < max(gemms) < arrives[1]
