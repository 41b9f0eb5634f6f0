"""Limits of the CPU target that TileLang's examples hit, each with a program of ours checked against torch in float64
on fresh random inputs, outputs poisoned: float8 choices in guarded copies, hand-written cross-thread reductions
(``T.tvm_thread_allreduce``), GPU timers without a GPU, a Mamba-style chunk-state kernel's fp16 rounding, and the
harness's CPU stand-ins and checks (scripts/run_tilelang_examples.py)."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import tiledsl
import tiledsl.language as T
from conftest import poisoned_like

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


# -- float8: guarded copies choose between float8 values ------------------------------------------------------------

@pytest.fixture(scope="module")
def float8_guarded_gemm():
    M, N, K, bm, bn, bk = 40, 48, 100, 32, 32, 64  # no size a multiple of its tile: every copy is guarded

    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float8_e4m3fn"), B: T.Tensor((N, K), "float8_e5m2"),
               C: T.Tensor((M, N), "float32"), A_copy: T.Tensor((M, K), "float8_e4m3fn")):
        with T.Kernel(T.ceildiv(N, bn), T.ceildiv(M, bm), threads=128) as (bx, by):
            A_s = T.alloc_shared((bm, bk), "float8_e4m3fn")
            B_s = T.alloc_shared((bn, bk), "float8_e5m2")
            C_f = T.alloc_fragment((bm, bn), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, bk), num_stages=2):
                T.copy(A[by * bm, k * bk], A_s)
                T.copy(B[bx * bn, k * bk], B_s)
                T.gemm(A_s, B_s, C_f, transpose_B=True)
                if bx == 0:
                    T.copy(A_s, A_copy[by * bm, k * bk])
            T.copy(C_f, C[by * bm, bx * bn])

    return tiledsl.compile(kernel, target="llvm"), (M, N, K)


def test_float8_gemm_with_guarded_copies(float8_guarded_gemm):
    kernel, (M, N, K) = float8_guarded_gemm
    a = torch.cat([torch.randn(M, K // 2), torch.randn(M, K - K // 2) * 0.01], 1).to(torch.float8_e4m3fn)  # subnormals
    b = torch.randn(N, K).to(torch.float8_e5m2)
    c = torch.full((M, N), float("nan"))
    a_copy = torch.full((M, K), float("nan")).to(torch.float8_e4m3fn)
    kernel(a, b, c, a_copy)
    torch.testing.assert_close(c.double(), a.double() @ b.double().T, rtol=1e-6, atol=1e-6)
    assert torch.equal(a_copy.view(torch.uint8), a.view(torch.uint8))


@pytest.mark.parametrize("f8", ["float8_e4m3fn", "float8_e5m2"])
def test_float8_choice_with_constants(f8):
    """``if_then_else`` between a loaded float8 value and float8 constants (encoded by the pass, as torch does)."""
    N = 64
    constants = (-0.75, 0.0013, 300.0)

    @T.prim_func
    def kernel(X: T.Tensor((N,), f8), Y: T.Tensor((N,), f8)):
        with T.Kernel(1):
            for i in T.Parallel(N):
                Y[i] = T.if_then_else(i % 3 == 0, X[i], T.if_then_else(i % 3 == 1, T.cast(constants[0], f8),
                                      T.cast(constants[1] if i < N // 2 else constants[2], f8)))

    x = torch.randn(N).to(getattr(torch, f8))
    y = torch.full((N,), float("nan")).to(getattr(torch, f8))
    tiledsl.compile(kernel, target="llvm")(x, y)
    i = torch.arange(N)
    want = torch.where(i % 3 == 0, x.float(), torch.where(i % 3 == 1, constants[0],
                                                          torch.where(i < N // 2, constants[1], constants[2])))
    assert torch.equal(y.view(torch.uint8), want.to(getattr(torch, f8)).view(torch.uint8))


@pytest.mark.parametrize("f8", ["float8_e4m3fn", "float8_e5m2"])
def test_float8_arithmetic_rounds_once_like_torch(f8):
    """Products, sums, maxima and comparisons of float8 values (many subnormal) give torch's
    ``(x.float() op y.float()).to(float8)`` bit for bit (TVM's own float8 legalization got 96 of 256 products of
    small e4m3fn values wrong)."""
    N = 512

    @T.prim_func
    def kernel(X: T.Tensor((N,), f8), Z: T.Tensor((N,), f8), P: T.Tensor((N,), f8), S: T.Tensor((N,), f8),
               M: T.Tensor((N,), f8), L: T.Tensor((N,), f8), C: T.Tensor((N,), f8)):
        with T.Kernel(1):
            for i in T.Parallel(N):
                P[i] = X[i] * Z[i]
                S[i] = X[i] + Z[i]
                M[i] = T.max(X[i], Z[i])
                L[i] = T.if_then_else(X[i] < Z[i], X[i], Z[i])
                C[i] = X[i] * T.cast(0.3, f8)

    torch_f8 = getattr(torch, f8)
    x = torch.cat([torch.randn(N // 2) * 0.05, torch.randn(N // 2) * 4]).to(torch_f8)
    z = torch.cat([torch.randn(N // 2), torch.randn(N // 2) * 0.01]).to(torch_f8)
    outs = [torch.full((N,), float("nan")).to(torch_f8) for _ in range(5)]
    tiledsl.compile(kernel, target="llvm")(x, z, *outs)
    xf, zf, point3 = x.float(), z.float(), torch.tensor(0.3).to(torch_f8).float()
    wants = [xf * zf, xf + zf, torch.maximum(xf, zf), torch.where(xf < zf, xf, zf), xf * point3]
    for name, got, want in zip("PSMLC", outs, wants):
        bad = got.view(torch.uint8) != want.to(torch_f8).view(torch.uint8)
        assert not bad.any(), (name, xf[bad][:4].tolist(), zf[bad][:4].tolist())


def test_float8_constant_codes_match_torch():
    from tiledsl.passes.legalize_float8_cpu import _FORMATS, _encode_constant

    values = torch.cat([torch.randn(500) * 8, torch.randn(300) * 1e-3, torch.randn(100) * 1e-6,
                        torch.tensor([0.0, -0.0, 448.0, 464.0, 465.0, 57344.0, 61439.0, 61440.0, 1e6,
                                      float("inf"), -float("inf")])])
    for name, fmt in _FORMATS.items():
        want = values.to(getattr(torch, name)).view(torch.uint8).tolist()
        got = [_encode_constant(v, fmt) for v in values.tolist()]
        assert got == want, name


# -- T.tvm_thread_allreduce ------------------------------------------------------------------------------------------

def _sum_rows(N, K, BN, RT, TK):
    """y = W x with each row split over RT threads and summed by an allreduce (TileLang's split-K GEMV)."""

    @T.prim_func
    def kernel(X: T.Tensor((K,), "float16"), W: T.Tensor((N, K), "float16"), Y: T.Tensor((N,), "float32")):
        with T.Kernel(T.ceildiv(N, BN), threads=(BN, RT)) as bn:
            tn = T.get_thread_binding(0)
            tk = T.get_thread_binding(1)
            part = T.alloc_local((1,), "float32")
            total = T.alloc_local((1,), "float32")
            T.clear(part)
            for ko in T.serial(T.ceildiv(K, RT * TK)):
                for k in T.serial(TK):
                    part[0] += X[ko * RT * TK + tk * TK + k].astype("float32") * \
                        W[bn * BN + tn, ko * RT * TK + tk * TK + k].astype("float32")
            with T.attr(T.comm_reducer(lambda x, y: x + y, [T.cast(0, "float32")]), "reduce_scope",
                        T.reinterpret(T.uint64(0), dtype="handle")):
                T.evaluate(T.tvm_thread_allreduce(T.uint32(1), part[0], True, total[0], tk, dtype="handle"))
            Y[bn * BN + tn] = total[0]

    return kernel


def test_thread_allreduce_sum():
    N, K = 64, 256
    kernel = tiledsl.compile(_sum_rows(N, K, BN=8, RT=4, TK=8), target="llvm")
    x, w = torch.randn(K).half(), torch.randn(N, K).half()
    y = poisoned_like(torch.empty(N))
    kernel(x, w, y)
    torch.testing.assert_close(y.double(), w.double() @ x.double(), rtol=1e-5, atol=1e-5)


def test_thread_allreduce_of_two_values_with_a_condition():
    """An arg-max reducer (two values updated together); threads whose condition is false contribute the
    identity."""
    N, K, RT = 16, 64, 8

    @T.prim_func
    def kernel(X: T.Tensor((N, K), "float32"), V: T.Tensor((N,), "float32"), I: T.Tensor((N,), "int32")):
        with T.Kernel(N, threads=RT) as row:
            t = T.get_thread_binding(0)
            best = T.alloc_local((1,), "float32")
            where = T.alloc_local((1,), "int32")
            out_v = T.alloc_local((1,), "float32")
            out_i = T.alloc_local((1,), "int32")
            best[0] = X[row, t]
            where[0] = t
            for k in T.serial(1, K // RT):
                if X[row, k * RT + t] > best[0]:
                    best[0] = X[row, k * RT + t]
                    where[0] = k * RT + t
            with T.attr(T.comm_reducer(lambda v0, i0, v1, i1: (T.Select(v0 >= v1, v0, v1),
                                                               T.Select(v0 >= v1, i0, i1)),
                                       [T.float32(-3.0e38), T.int32(-1)]), "reduce_scope",
                        T.reinterpret(T.uint64(0), dtype="handle")):
                T.evaluate(T.tvm_thread_allreduce(T.uint32(2), best[0], where[0], t < RT - 1, out_v[0], out_i[0], t,
                                                  dtype="handle"))
            if t == 0:
                V[row] = out_v[0]
                I[row] = out_i[0]

    x = torch.randn(N, K)
    v, i = poisoned_like(torch.empty(N)), poisoned_like(torch.empty(N, dtype=torch.int32))
    tiledsl.compile(kernel, target="llvm")(x, v, i)
    seen = x.masked_fill((torch.arange(K) % RT) == RT - 1, -float("inf"))  # the last thread's columns are left out
    assert torch.equal(v, seen.max(1).values)
    assert torch.equal(i.long(), seen.argmax(1))


# -- GPU timers without a GPU ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["event", "cudagraph", "cupti"])
def test_gpu_timers_fall_back_to_the_wall_clock_without_a_gpu(backend):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the CUDA timers run")
    from tiledsl.profiler import do_bench

    calls = []
    ms = do_bench(lambda: calls.append(1), warmup=2, rep=3, backend=backend)
    assert len(calls) == 5 and ms >= 0.0


# -- a Mamba chunk-state style kernel: fp16 tiles, exp2 scales, a GEMM with a transposed register tile -------------

def test_chunk_state_kernel_rounds_only_where_the_program_says():
    """states[h, p, n] = sum_l exp(dA[-1] - dA[l]) dt[l] x[l, h, p] B[l, n], with the scaled x^T kept in an fp16
    tile as the program says. Against float64 following that one rounding the kernel is exact to fp16 output
    rounding; against exact float64 it is within the program's own rounding."""
    L, H, P, Nn, bk = 128, 2, 32, 64, 32
    p = 1.44269504

    @T.prim_func
    def kernel(X: T.Tensor((L, H, P), "float16"), Bm: T.Tensor((L, Nn), "float16"),
               dt: T.Tensor((H, L), "float16"), dA: T.Tensor((H, L), "float16"),
               S: T.Tensor((H, P, Nn), "float16")):
        with T.Kernel(H, threads=128) as h:
            x_s = T.alloc_shared((bk, P), "float16")
            x_f = T.alloc_fragment((bk, P), "float16")
            xt_f = T.alloc_fragment((P, bk), "float16")
            b_s = T.alloc_shared((bk, Nn), "float16")
            scale = T.alloc_fragment((bk,), "float32")
            last = T.alloc_fragment((1,), "float32")
            acc = T.alloc_fragment((P, Nn), "float32")
            last[0] = dA[h, L - 1]
            T.clear(acc)
            for k in T.Pipelined(L // bk, num_stages=2):
                T.copy(X[k * bk:(k + 1) * bk, h, 0:P], x_s)
                for i in T.Parallel(bk):
                    scale[i] = T.exp2(last[0] * p - dA[h, k * bk + i] * p) * dt[h, k * bk + i]
                T.copy(x_s, x_f)
                for i, j in T.Parallel(P, bk):
                    xt_f[i, j] = x_f[j, i] * scale[j]
                T.copy(Bm[k * bk:(k + 1) * bk, 0:Nn], b_s)
                T.gemm(xt_f, b_s, acc)
            T.copy(acc, S[h, 0:P, 0:Nn])

    x, b = torch.randn(L, H, P).half(), torch.randn(L, Nn).half()
    dt, dA = torch.rand(H, L).half(), torch.randn(H, L).half()
    s = poisoned_like(torch.empty(H, P, Nn, dtype=torch.float16))
    tiledsl.compile(kernel, target="llvm")(x, b, dt, dA, s)
    decay = torch.exp2(dA.float()[:, -1:] * p - dA.float() * p) * dt.float()  # (H, L), float32 as the kernel
    xs = (x.float() * decay.T[:, :, None]).half()  # the program's fp16 tile
    rounded = torch.einsum("lhp,ln->hpn", xs.double(), b.double())
    torch.testing.assert_close(s.double(), rounded.half().double(), rtol=2e-3, atol=2e-3)
    exact = torch.einsum("lhp,hl,ln->hpn", x.double(), torch.exp(dA.double()[:, -1:] - dA.double())
                         * dt.double(), b.double())
    outside = ~torch.isclose(s.double(), exact, rtol=1e-2, atol=1e-2)
    assert outside.double().mean() < 0.01


# -- the harness's CPU stand-ins and checks -------------------------------------------------------------------------

@pytest.fixture
def standins(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS / "tilelang_cpu_standins"))
    for name in ("flash_attn", "fla", "fla.modules", "fla.modules.l2norm", "fla.ops", "fla.ops.linear_attn"):
        monkeypatch.delitem(sys.modules, name, raising=False)


@pytest.mark.parametrize("causal", [False, True])
def test_flash_attn_standin_matches_sdpa(standins, causal):
    import flash_attn
    torch.nn.functional.scaled_dot_product_attention  # noqa: B018 - the reference below

    lengths, heads, kv_heads, d = [5, 17, 9], 4, 2, 16
    cu = torch.tensor([0] + torch.tensor(lengths).cumsum(0).tolist(), dtype=torch.int32)
    q = torch.randn(sum(lengths), heads, d).half()
    k, v = torch.randn(sum(lengths), kv_heads, d).half(), torch.randn(sum(lengths), kv_heads, d).half()
    out = flash_attn.flash_attn_varlen_func(q, k, v, cu, cu, max(lengths), max(lengths), 0.0, causal=causal)
    for i, n in enumerate(lengths):
        rows = slice(int(cu[i]), int(cu[i + 1]))
        qs, ks, vs = (t[rows].double().transpose(0, 1) for t in (q, k, v))
        want = torch.nn.functional.scaled_dot_product_attention(
            qs, ks.repeat_interleave(2, 0), vs.repeat_interleave(2, 0), is_causal=causal)
        torch.testing.assert_close(out[rows].double(), want.transpose(0, 1).half().double(), rtol=0, atol=0)


def test_flash_attn_standin_aligns_causal_bottom_right(standins):
    import flash_attn

    q, k, v = torch.randn(2, 1, 8).half(), torch.randn(4, 1, 8).half(), torch.randn(4, 1, 8).half()
    cu_q, cu_k = torch.tensor([0, 2], dtype=torch.int32), torch.tensor([0, 4], dtype=torch.int32)
    out = flash_attn.flash_attn_varlen_func(q, k, v, cu_q, cu_k, 2, 4, causal=True)
    scores = q[:, 0].double() @ k[:, 0].double().T / 8 ** 0.5
    scores[0, 3] = -float("inf")  # query 0 sees keys 0..2, query 1 sees all four
    want = torch.softmax(scores, -1) @ v[:, 0].double()
    torch.testing.assert_close(out[:, 0].double(), want.half().double(), rtol=0, atol=0)
    with pytest.raises(NotImplementedError, match="dropout_p"):
        flash_attn.flash_attn_varlen_func(q, k, v, cu_q, cu_k, 2, 4, dropout_p=0.1)


def test_fla_standins(standins):
    from fla.modules.l2norm import l2norm_fwd
    from fla.ops.linear_attn import fused_chunk_linear_attn

    x = torch.randn(1, 8, 2, 16, dtype=torch.float16, requires_grad=True)
    y, _ = l2norm_fwd(x)
    assert y.is_leaf and y.dtype == torch.float16
    torch.testing.assert_close(y.double(), torch.nn.functional.normalize(x.double(), dim=-1), rtol=1e-3, atol=1e-3)
    q, k, v = (torch.randn(1, 8, 2, 16) for _ in range(3))
    o, state = fused_chunk_linear_attn(q, k, v, output_final_state=True, normalize=False)
    scores = torch.einsum("bthd,bshd->bhts", q.double() * 16 ** -0.5, k.double()).tril()
    torch.testing.assert_close(o.double(), torch.einsum("bhts,bshd->bthd", scores, v.double()), rtol=1e-5,
                               atol=1e-5)
    torch.testing.assert_close(state.double(), torch.einsum("bshk,bshv->bhkv", k.double(), v.double()), rtol=1e-5,
                               atol=1e-5)


FAKE_EXAMPLE = '''
import torch
import tilelang
from tilelang.profiler import bench

assert torch.cuda.is_available(), "the example's own code sees a GPU"
assert not bench._on_cuda(None), "tiledsl sees none"
x = torch.ones(4, device="cuda")
assert x.device.type == "cpu"
print("\\u274c mismatch reported by the example")
'''


@pytest.mark.slow  # 5-13 s (a subprocess importing torch and tiledsl); checks the harness, not the library
def test_harness_reports_a_failed_check_printed_by_an_example(tmp_path):
    checkout = tmp_path / "tilelang"
    (checkout / "examples" / "gemm").mkdir(parents=True)
    (checkout / "examples" / "gemm" / "example_fake.py").write_text(FAKE_EXAMPLE)
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, str(SCRIPTS / "run_tilelang_examples.py"), str(checkout), "--mode", "cpu",
                    "--scratch", str(tmp_path / "scratch"), "--json", str(out)], check=True, capture_output=True,
                   timeout=300)
    import json

    (result,) = json.loads(out.read_text())
    assert result["status"] == "fail", result
    assert "mismatch reported by the example" in result["reason"], result


# -- tiledsl.carver: the Roller-style GEMM planner -----------------------------------------------------------------

def test_carver_needs_an_architecture_without_a_gpu():
    from tiledsl.carver.arch import CUDA

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    with pytest.raises(tiledsl.errors.TargetError, match="sm_90a"):
        CUDA("cuda")


@pytest.mark.parametrize("arch", ["sm_80", "sm_90a"])
def test_carver_matmul_hints_fit_the_gpu(arch):
    from tiledsl.carver.arch import CUDA
    from tiledsl.carver.template import MatmulTemplate

    gpu = CUDA({"kind": "cuda", "arch": arch})
    for M, N, K in [(4096, 4096, 4096), (256, 256, 256), (16, 4096, 4096)]:
        hints = MatmulTemplate(M=M, N=N, K=K, in_dtype=T.float16, out_dtype=T.float16,
                               accum_dtype=T.float32).with_arch(gpu).recommend_hints(topk=6)
        assert len(hints) == 6
        for h in hints:
            (bm, bn), (wm, wn), (bk,) = h.block, h.warp, h.rstep
            assert bm % wm == 0 and bn % wn == 0 and wm % 16 == 0 and wn % 16 == 0
            assert h.threads in (32, 64, 128, 256)
            assert h.pipeline_stage * (bm + bn) * bk * 2 <= gpu.smem_cap
        if M == 4096:  # a large GEMM gets large tiles; a small one enough blocks to fill the GPU
            assert hints[0].block[0] * hints[0].block[1] >= 128 * 128
        if M == 256:
            assert hints[0].grid_size >= 32


def test_carver_hints_run_correctly_on_the_cpu():
    """The top recommendations, used as an example uses them (block, warp-derived threads, K step, stages), give a
    correct GEMM (built for the CPU here)."""
    from tiledsl.carver.arch import CUDA
    from tiledsl.carver.template import MatmulTemplate

    M, N, K = 96, 160, 128
    hints = MatmulTemplate(M=M, N=N, K=K, in_dtype="float16", out_dtype="float16", accum_dtype="float32") \
        .with_arch(CUDA({"kind": "cuda", "arch": "sm_90a"})).recommend_hints(topk=2)
    a, b = torch.randn(M, K).half(), torch.randn(N, K).half()
    for h in hints:
        (bm, bn), (bk,) = h.block, h.rstep

        @T.prim_func
        def gemm(A: T.Tensor((M, K), "float16"), B: T.Tensor((N, K), "float16"), C: T.Tensor((M, N), "float16")):
            with T.Kernel(T.ceildiv(N, bn), T.ceildiv(M, bm), threads=h.threads) as (bx, by):
                A_s = T.alloc_shared((bm, bk), "float16")
                B_s = T.alloc_shared((bn, bk), "float16")
                C_f = T.alloc_fragment((bm, bn), "float32")
                T.clear(C_f)
                for k in T.Pipelined(T.ceildiv(K, bk), num_stages=h.pipeline_stage):
                    T.copy(A[by * bm, k * bk], A_s)
                    T.copy(B[bx * bn, k * bk], B_s)
                    T.gemm(A_s, B_s, C_f, transpose_B=True)
                T.copy(C_f, C[by * bm, bx * bn])

        c = poisoned_like(torch.empty(M, N, dtype=torch.float16))
        tiledsl.compile(gemm, target="llvm")(a, b, c)
        torch.testing.assert_close(c.double(), (a.double() @ b.double().T).half().double(), rtol=2e-3, atol=2e-3)


def test_carver_equivalent_function_is_the_gemm():
    import tvm

    from tiledsl.carver.template import MatmulTemplate

    M, N, K = 8, 12, 16
    func = MatmulTemplate(M=M, N=N, K=K, in_dtype="float16", out_dtype="float32",
                          accum_dtype="float32").equivalent_function()
    a, b, c = torch.randn(M, K).half(), torch.randn(N, K).half(), torch.full((M, N), float("nan"))
    tvm.compile(func, target="llvm")(a, b, c)
    torch.testing.assert_close(c.double(), a.double() @ b.double().T, rtol=1e-5, atol=1e-5)
