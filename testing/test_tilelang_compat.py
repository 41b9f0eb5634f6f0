"""TileLang programs port by changing their imports: macros with typed buffer annotations, "float" as a dtype,
``tiledsl.PassConfigKey`` in ``pass_configs``, ``kernel.get_profiler()``, and TileLang's own flash-attention form
(the row max reset to -inf in every step) still taking the Hopper path."""
import math

import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.errors import ConfigError
from tiledsl.passes.hopper import attention_match, match_attention

SM90A = {"kind": "cuda", "arch": "sm_90a"}


@tiledsl.jit(out_idx=[3], pass_configs={tiledsl.PassConfigKey.TL_ENABLE_FAST_MATH: True})
def attention_with_macros(batch, heads, seq_len, dim, causal, block_M=64, block_N=64, threads=128):
    """Flash attention split into macros, as TileLang's examples write it."""
    scale = (1.0 / dim) ** 0.5 * 1.44269504
    shape = [batch, seq_len, heads, dim]
    dtype, acc = "float16", "float"

    @T.macro
    def scores(K: T.Tensor(shape, dtype), Q_s: T.SharedBuffer([block_M, dim], dtype),
               K_s: T.SharedBuffer([block_N, dim], dtype), S: T.FragmentBuffer([block_M, block_N], acc),
               k: T.int32, bx: T.int32, by: T.int32, bz: T.int32):
        T.copy(K[bz, k * block_N:(k + 1) * block_N, by, :], K_s)
        if causal:
            for i, j in T.Parallel(block_M, block_N):
                S[i, j] = T.if_then_else(bx * block_M + i >= k * block_N + j, 0, -T.infinity(S.dtype))
        else:
            T.clear(S)
        T.gemm(Q_s, K_s, S, transpose_B=True, policy=T.GemmWarpPolicy.FullRow)

    @T.macro
    def online_softmax(S: T.FragmentBuffer([block_M, block_N], acc), P: T.FragmentBuffer([block_M, block_N], dtype),
                       m: T.FragmentBuffer([block_M], acc), m_prev: T.FragmentBuffer([block_M], acc),
                       alpha: T.FragmentBuffer([block_M], acc), row_sum: T.FragmentBuffer([block_M], acc),
                       l: T.FragmentBuffer([block_M], acc)):
        T.copy(m, m_prev)
        T.fill(m, -T.infinity(acc))  # this step's own row max
        T.reduce_max(S, m, dim=1, clear=False)
        for i in T.Parallel(block_M):
            alpha[i] = T.exp2(m_prev[i] * scale - m[i] * scale)
        for i, j in T.Parallel(block_M, block_N):
            S[i, j] = T.exp2(S[i, j] * scale - m[i] * scale)
        T.reduce_sum(S, row_sum, dim=1)
        for i in T.Parallel(block_M):
            l[i] = l[i] * alpha[i] + row_sum[i]
        T.copy(S, P)

    @T.prim_func
    def main(Q: T.Tensor(shape, dtype), K: T.Tensor(shape, dtype), V: T.Tensor(shape, dtype),
             Output: T.Tensor(shape, dtype)):
        with T.Kernel(T.ceildiv(seq_len, block_M), heads, batch, threads=threads) as (bx, by, bz):
            Q_s = T.alloc_shared([block_M, dim], dtype)
            K_s = T.alloc_shared([block_N, dim], dtype)
            V_s = T.alloc_shared([block_N, dim], dtype)
            S = T.alloc_fragment([block_M, block_N], acc)
            P = T.alloc_fragment([block_M, block_N], dtype)
            O = T.alloc_fragment([block_M, dim], acc)
            m = T.alloc_fragment([block_M], acc)
            m_prev = T.alloc_fragment([block_M], acc)
            alpha = T.alloc_fragment([block_M], acc)
            row_sum = T.alloc_fragment([block_M], acc)
            l = T.alloc_fragment([block_M], acc)
            T.copy(Q[bz, bx * block_M:(bx + 1) * block_M, by, :], Q_s)
            T.fill(O, 0)
            T.fill(l, 0)
            T.fill(m, -T.infinity(acc))
            steps = (T.min(T.ceildiv(seq_len, block_N), T.ceildiv((bx + 1) * block_M, block_N)) if causal
                     else T.ceildiv(seq_len, block_N))
            for k in T.Pipelined(steps, num_stages=1):
                scores(K, Q_s, K_s, S, k, bx, by, bz)
                online_softmax(S, P, m, m_prev, alpha, row_sum, l)
                for i, j in T.Parallel(block_M, dim):
                    O[i, j] *= alpha[i]
                T.copy(V[bz, k * block_N:(k + 1) * block_N, by, :], V_s)
                T.gemm(P, V_s, O, policy=T.GemmWarpPolicy.FullRow)
            for i, j in T.Parallel(block_M, dim):
                O[i, j] /= l[i]
            T.copy(O, Output[bz, bx * block_M:(bx + 1) * block_M, by, :])

    return main


def _reference(q, k, v, causal):
    q, k, v = (x.double().transpose(1, 2) for x in (q, k, v))
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if causal:
        n = s.shape[-1]
        s = s.masked_fill(torch.ones(n, n, dtype=torch.bool, device=s.device).triu(1), float("-inf"))
    return (torch.softmax(s, -1) @ v).transpose(1, 2)


@pytest.mark.parametrize("causal", [False, True])
def test_macro_style_attention_runs_and_its_profiler_checks_it(causal):
    kernel = attention_with_macros(1, 2, 128, 64, causal)
    profiler = kernel.get_profiler()
    profiler.assert_allclose(lambda q, k, v: _reference(q, k, v, causal), rtol=1e-2, atol=1e-2)
    assert profiler.do_bench(warmup=1, rep=2) > 0


def test_profiler_assert_allclose_fails_on_a_wrong_reference():
    kernel = attention_with_macros(1, 2, 128, 64, False)
    with pytest.raises(AssertionError, match="wrong result"):
        kernel.get_profiler().assert_allclose(lambda q, k, v: 2 * _reference(q, k, v, False))


@pytest.mark.parametrize("causal", [False, True])
def test_macro_style_attention_takes_the_hopper_path(causal):
    prim = attention_with_macros.get_tir(2, 4, 512, 128, causal, block_M=128, block_N=128, threads=256)
    plan = match_attention(prim)
    assert plan is not None and plan.causal == causal, attention_match.last_reason


@pytest.mark.nvcc
def test_pass_config_keys_that_disable_tma_keep_the_generic_lowering(hopper_shortcut):
    prim = attention_with_macros.get_tir(2, 4, 512, 128, False, block_M=128, block_N=128, threads=256)
    fast = tiledsl.compile(prim, target=SM90A, pass_configs={tiledsl.PassConfigKey.TL_ENABLE_FAST_MATH: True})
    assert "cp_async_bulk_tensor" in fast.get_kernel_source()  # TMA: the whole-kernel Hopper path
    plain = tiledsl.compile(prim, target=SM90A, pass_configs={tiledsl.PassConfigKey.TL_DISABLE_TMA_LOWER: True})
    assert "cp_async_bulk_tensor" not in plain.get_kernel_source()  # the general passes, cp.async (no TMA)


@pytest.mark.nvcc
def test_fast_math_and_device_flags_reach_nvcc(cache_dir, monkeypatch):
    """``tl.enable_fast_math`` compiles with ``--use_fast_math`` (as TileLang does; the division by the row sum
    becomes one reciprocal per row: 2672 -> 1680 SASS instructions for this attention on sm_90a), and
    ``tl.device_compile_flags`` adds its flags; both are in the cubin's cache key."""
    from tiledsl.codegen import nvcc

    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    prim = attention_with_macros.get_tir(1, 2, 256, 64, False, block_M=64, block_N=64, threads=128)
    plain = tiledsl.compile(prim, target=SM90A).get_kernel_source()
    keys = {}
    for name, cfg, flags in [("fast", {tiledsl.PassConfigKey.TL_ENABLE_FAST_MATH: True}, ["--use_fast_math"]),
                             ("both", {tiledsl.PassConfigKey.TL_ENABLE_FAST_MATH: True,
                                       tiledsl.PassConfigKey.TL_DISABLE_FAST_MATH: True,
                                       tiledsl.PassConfigKey.TL_DEVICE_COMPILE_FLAGS: "-lineinfo"}, ["-lineinfo"])]:
        src = tiledsl.compile(prim, target=SM90A, pass_configs=cfg).get_kernel_source()
        assert src == plain  # the flags change the binary, not the CUDA source
        keys[name] = nvcc.cubin_key(src, "sm_90a", flags)
        assert nvcc.cubin_store().get(keys[name]) is not None, name
    fast = nvcc.compile_cubin(plain, "sm_90a", ["--use_fast_math"])
    assert fast != nvcc.compile_cubin(plain, "sm_90a")
    with pytest.raises(ConfigError, match="tl.device_compile_flags"):
        tiledsl.compile(prim, target=SM90A, pass_configs={tiledsl.PassConfigKey.TL_DEVICE_COMPILE_FLAGS: [3]})


def test_unknown_tilelang_pass_config_is_named():
    prim = attention_with_macros.get_tir(1, 2, 128, 64, False)
    with pytest.raises(ConfigError, match="tl.no_such_switch"):
        tiledsl.compile(prim, target="llvm", pass_configs={"tl.no_such_switch": True})


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
def test_macro_style_attention_with_fast_math_on_the_gpu(causal, monkeypatch):
    """The general passes' kernel (no Hopper shortcut) built with --use_fast_math."""
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    prim = attention_with_macros.get_tir(2, 4, 512, 128, causal, block_M=128, block_N=128, threads=256)
    kernel = tiledsl.compile(prim, out_idx=[3], pass_configs={tiledsl.PassConfigKey.TL_ENABLE_FAST_MATH: True})
    kernel.get_profiler().assert_allclose(lambda q, k, v: _reference(q, k, v, causal), rtol=1e-2, atol=1e-2)


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
def test_macro_style_attention_on_the_gpu(causal):
    """On an H100/H200 this runs the Hopper kernel; elsewhere the generic CUDA lowering."""
    kernel = attention_with_macros(2, 4, 512, 128, causal, block_M=128, block_N=128, threads=256)
    profiler = kernel.get_profiler()
    profiler.assert_allclose(lambda q, k, v: _reference(q, k, v, causal), rtol=1e-2, atol=1e-2)
    assert profiler.do_bench(warmup=2, rep=5) > 0


def test_every_tilelang_pass_config_key_is_accepted():
    """TileLang's whole key list ports (`tl.*` keys with no tiledsl counterpart have no effect; `tirx.*` ones go to
    TVM where TVM 0.27 has them); the keys that turn off TMA / warp specialization / wgmma turn off the Hopper
    specialization."""
    from tiledsl import pass_config

    every = {key: False for key in tiledsl.PassConfigKey if key.value.startswith("tl.")}
    every[tiledsl.PassConfigKey.TIR_DISABLE_VECTORIZE] = False
    prim = attention_with_macros.get_tir(1, 2, 128, 64, False)
    tiledsl.compile(prim, target="llvm", pass_configs=every)
    tl_options, rest = pass_config.split({tiledsl.PassConfigKey.TL_DISABLE_WGMMA: True,
                                          tiledsl.PassConfigKey.TIR_ENABLE_EQUIV_TERMS_IN_CSE: True,
                                          tiledsl.PassConfigKey.TIR_DISABLE_VECTORIZE: True})
    assert not pass_config.hopper_allowed(tl_options)
    assert rest == {"tirx.disable_vectorize": True}  # the option TVM 0.27 lacks is dropped, the other kept


def test_set_log_level_and_its_mistakes():
    import logging

    logger = logging.getLogger("tiledsl")
    before = logger.level  # other tests read tiledsl's debug records: put the level back
    try:
        tiledsl.set_log_level("warning")
        assert logger.level == logging.WARNING
        tiledsl.set_log_level(logging.INFO)
        assert logger.level == logging.INFO
        with pytest.raises(ValueError, match="unknown level 'loud'"):
            tiledsl.set_log_level("loud")
    finally:
        logger.setLevel(before)


def test_float8_e4m3_is_the_e4m3fn_format():
    """TileLang's T.float8_e4m3 is, on NVIDIA GPUs, the OCP E4M3 format without infinities (torch's
    float8_e4m3fn): 448 is its largest value."""
    assert T.float8_e4m3 == "float8_e4m3fn" and T.dtype("float8_e4m3") == T.float8_e4m3fn

    @tiledsl.jit
    def to_fp8(x):
        N = T.const("N")
        x: T.Tensor((N,), T.float32)
        y = T.empty((N,), T.float8_e4m3)
        with T.Kernel(1, threads=32):
            for i in T.Parallel(N):
                y[i] = T.clamp(x[i], -448.0, 448.0)
        return y

    x = torch.randn(64) * 100
    x[0], x[1] = 448.0, -1000.0
    y = to_fp8(x)
    assert y.dtype == torch.float8_e4m3fn
    torch.testing.assert_close(y.float(), x.clamp(-448, 448).to(torch.float8_e4m3fn).float(), rtol=0, atol=0)


def test_dynamic_with_several_names_gives_a_tuple():
    @tiledsl.jit
    def add_rows(a, b):
        rows, cols = T.dynamic("rows, cols")
        a: T.Tensor((rows, cols), T.float32)
        b: T.Tensor((rows, cols), T.float32)
        c = T.empty((rows, cols), T.float32)
        with T.Kernel(T.ceildiv(rows, 16), threads=64) as bx:
            for i, j in T.Parallel(16, 8):
                if bx * 16 + i < rows and j < cols:
                    c[bx * 16 + i, j] = a[bx * 16 + i, j] + b[bx * 16 + i, j]
        return c

    assert isinstance(T.dynamic("M"), tiledsl.tvm.tirx.Var)
    for rows in (20, 37):
        a, b = torch.randn(rows, 8), torch.randn(rows, 8)
        torch.testing.assert_close(add_rows(a, b).double(), a.double() + b.double(), rtol=1e-6, atol=1e-6)


def test_fill_of_one_element():
    """``T.fill(s[1], v)`` sets that element only (TileLang reads an element access as a 1-element region)."""
    @tiledsl.jit
    def two_counters(x):
        N = T.const("N")
        x: T.Tensor((N,), T.int32)
        out = T.empty((2,), T.int32)
        with T.Kernel(1, threads=32):
            s = T.alloc_shared((2,), T.int32)
            T.fill(s, 7)
            T.fill(s[1], 0)
            for i in T.serial(N):
                s[1] = s[1] + x[i]
            T.copy(s, out)
        return out

    x = torch.randint(-50, 50, (13,), dtype=torch.int32)
    assert two_counters(x).tolist() == [7, int(x.sum())]


@tiledsl.jit
def reverse_blocks(x, rounds=2):
    """Per-thread code exchanging values through shared memory with explicit barriers, `rounds` times."""
    N = T.const("N")
    x: T.Tensor((N,), T.float32)
    y = T.empty((N,), T.float32)
    with T.Kernel(N // 64, threads=64) as bx:
        s = T.alloc_shared((64,), T.float32)
        v = T.alloc_local((1,), T.float32)
        tx = T.get_thread_binding()
        v[0] = x[bx * 64 + tx]
        for _ in T.serial(rounds):
            s[tx] = v[0] * 2.0
            T.sync_threads()
            v[0] = s[63 - tx]
            T.sync_threads()
        y[bx * 64 + tx] = v[0]
    return y


def test_sync_threads_orders_per_thread_code():
    x = torch.randn(256)
    for rounds in (1, 2, 3):
        expected = x.view(-1, 64).double() * 2 ** rounds
        if rounds % 2:
            expected = expected.flip(1)
        torch.testing.assert_close(reverse_blocks(x, rounds).double(), expected.reshape(-1), rtol=0, atol=0)


def test_sync_threads_under_a_thread_branch_is_refused_on_the_cpu():
    @tiledsl.jit
    def half_block_barrier(x):
        N = T.const("N")
        x: T.Tensor((N,), T.float32)
        y = T.empty((N,), T.float32)
        with T.Kernel(1, threads=64):
            tx = T.get_thread_binding()
            if tx < 32:
                T.sync_threads()
            y[tx] = x[tx]
        return y

    with pytest.raises(tiledsl.TileProgramError, match="every thread of the block must reach a barrier"):
        half_block_barrier(torch.randn(64))
    with pytest.raises(tiledsl.TileProgramError, match="named barriers"):
        T.sync_threads(1, 128)


@pytest.mark.nvcc
def test_sync_threads_builds_for_sm90a():
    source = reverse_blocks.compile(N=256, rounds=2, target=SM90A).get_kernel_source()
    assert source.count("__syncthreads()") >= 2


@pytest.mark.gpu
def test_gpu_sync_threads_orders_per_thread_code():
    x = torch.randn(256, device="cuda")
    torch.testing.assert_close(reverse_blocks(x, 3).double(), (x.view(-1, 64).double() * 8).flip(1).reshape(-1),
                               rtol=0, atol=0)


def test_reinterpret_in_either_argument_order():
    """``T.reinterpret(value, dtype)`` (TileLang's order) and ``T.reinterpret(dtype, value)`` (TVM's) read the
    same bits; a ceil(log2(x)) from the exponent bits, as TileLang's fp8 quantization examples compute it."""
    @tiledsl.jit
    def log2_ceil(x):
        N = T.const("N")
        x: T.Tensor((N,), T.float32)
        y = T.empty((N,), T.int32)
        with T.Kernel(1, threads=32):
            for i in T.Parallel(N):
                bits = T.reinterpret(x[i], T.uint32)
                mantissa = bits & ((1 << 23) - 1)
                exponent = T.Cast("int32", (T.reinterpret("uint32", x[i]) >> 23) & 0xFF)
                y[i] = exponent - 127 + T.if_then_else(mantissa != 0, 1, 0)
        return y

    x = torch.rand(64) * 1000 + 1e-3
    x[:4] = torch.tensor([1.0, 2.0, 0.5, 3.0])
    torch.testing.assert_close(log2_ceil(x), torch.ceil(torch.log2(x.double())).int(), rtol=0, atol=0)
    with pytest.raises(tiledsl.TileProgramError, match="Python number"):
        T.reinterpret(3, "uint32")


def test_cache_switches(monkeypatch):
    monkeypatch.delenv("TILEDSL_DISABLE_CACHE", raising=False)
    assert tiledsl.is_cache_enabled()
    tiledsl.disable_cache()
    assert not tiledsl.is_cache_enabled()
    tiledsl.enable_cache()
    assert tiledsl.is_cache_enabled()


def test_tfloat32_is_float32_storage():
    assert T.tfloat32 == "float32" and T.dtype("tfloat32") == T.float32
