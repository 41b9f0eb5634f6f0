"""TileLang's newer style on tiledsl: each program of ``eager_programs`` runs on the CPU against torch (fresh random
non-zero inputs, outputs poisoned with NaN before the run), builds for sm_80 and sm_90a with nvcc, and runs on a
GPU (marked). Also: one compile per distinct sizes, ``.compile(**sizes)``, ``get_tir``, the profiler, errors."""
import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.errors import KernelArgumentError, TileProgramError
from tiledsl.runtime import compiler

import eager_programs as P
from conftest import poisoned_like

SM80 = {"kind": "cuda", "arch": "sm_80"}
SM90A = {"kind": "cuda", "arch": "sm_90a"}


def rand(*shape, dtype=torch.float16, device="cpu"):
    """Random non-zero values."""
    x = torch.randn(*shape, dtype=torch.float32, device=device)
    x = torch.where(x.abs() < 1e-3, torch.full_like(x, 0.5), x)
    return x.to(dtype)


def run_poisoned(jit_fn, inputs, target="llvm", out_shapes=None, **kwargs):
    """Compile ``jit_fn`` for ``inputs`` with every output passed in pre-filled with NaN, run, return outputs
    (``out_shapes`` where an output's shape is dynamic)."""
    prim = jit_fn.get_tir(*inputs, **kwargs)
    kernel = tiledsl.compile(prim, out_idx=[], target=target)
    outs = []
    for n, p in enumerate([p for p in kernel.params[len(inputs):] if not p.workspace]):
        shape = out_shapes[n] if out_shapes else [int(s) for s in p.shape]
        like = torch.empty(shape, dtype=getattr(torch, p.dtype), device=inputs[0].device)
        outs.append(poisoned_like(like))
    kernel(*inputs, *outs)
    return outs


# ---------------------------------------------------------------------------------------------- references
def ref_attention(q, k, v, causal=False):
    q, k, v = (x.double().transpose(1, 2) for x in (q, k, v))
    s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if causal:
        n = s.shape[-1]
        s = s.masked_fill(torch.ones(n, n, dtype=torch.bool, device=s.device).triu(1), float("-inf"))
    lse = torch.logsumexp(s, -1)
    return (torch.softmax(s, -1) @ v).transpose(1, 2), lse


def ref_dq(q, k, v, do):
    qd, kd, vd, dod = (x.double().requires_grad_(True) for x in (q, k, v, do))
    out, _ = ref_attention(qd, kd, vd)
    (out * dod).sum().backward()
    return qd.grad


def dequant_int4(packed):
    lo = (packed & 0xF).to(torch.int16)
    hi = (packed >> 4).to(torch.int16)
    vals = torch.stack([lo, hi], dim=-1).reshape(packed.shape[0], -1)
    return torch.where(vals >= 8, vals - 16, vals).double()


def check_gemm(a, b, c):
    torch.testing.assert_close(c.double(), a.double() @ b.double(), rtol=1e-2, atol=1e-2)


# ---------------------------------------------------------------------------------------------- CPU runs
def test_gemm_called_with_tensors_compiles_once_per_size():
    a, b = rand(64, 32), rand(32, 96)
    before = compiler.STATS["builds"] + compiler.STATS["disk_hits"] + compiler.STATS["memory_hits"]
    check_gemm(a, b, P.gemm(a, b, block_M=32, block_N=32, block_K=16))
    a2, b2 = rand(64, 32), rand(32, 96)
    check_gemm(a2, b2, P.gemm(a2, b2, block_M=32, block_N=32, block_K=16))
    after = compiler.STATS["builds"] + compiler.STATS["disk_hits"] + compiler.STATS["memory_hits"]
    assert after - before == 1  # the second call was a look-up
    (c,) = run_poisoned(P.gemm, [a, b], block_M=32, block_N=32, block_K=16)
    check_gemm(a, b, c)


def test_repeated_call_with_keyword_config_is_a_look_up(monkeypatch):
    """A call with the sizes and config of an earlier one neither elaborates nor parses the program again (it
    cost about 8 ms a call before: the fast path ignored calls with keyword arguments)."""
    a, b = rand(64, 32), rand(32, 96)
    P.gemm(a, b, block_M=32, block_N=32, block_K=16)
    calls = []
    original = P.gemm.func.elaborate
    monkeypatch.setattr(P.gemm.func, "elaborate", lambda *args: calls.append(1) or original(*args))
    for _ in range(3):
        check_gemm(a, b, P.gemm(a, b, block_M=32, block_N=32, block_K=16))
    assert not calls
    check_gemm(a, b, P.gemm(a, b, block_M=32, block_N=32, block_K=32))  # another config: elaborated once
    assert len(calls) == 1


def test_gemm_compile_with_sizes_and_profiler():
    kernel = P.gemm.compile(M=64, N=32, K=64, block_M=32, block_N=32, block_K=32)
    a, b = rand(64, 64), rand(64, 32)
    check_gemm(a, b, kernel(a, b))
    assert P.gemm.compile(M=64, N=32, K=64, block_M=32, block_N=32, block_K=32) is kernel
    prof = kernel.get_profiler()
    prof.assert_allclose(lambda x, y: (x.double() @ y.double()).half(), rtol=1e-2, atol=1e-2)
    prim = P.gemm.get_tir(M=64, N=32, K=64)
    shapes = [[int(d) for d in p.ty.shape] for p in prim.params]
    assert shapes == [[64, 64], [64, 32], [64, 32]]  # A, B, then the output C
    assert "gemm" in P.gemm.get_kernel_source(M=64, N=32, K=64, block_M=32, block_N=32, block_K=32)


def test_dtype_objects_and_strings_are_interchangeable():
    a, b = rand(32, 32), rand(32, 32)
    k_obj = P.gemm.compile(M=32, N=32, K=32, block_M=32, block_N=32, block_K=32, dtype=T.float16,
                           accum_dtype=T.float32)
    k_str = P.gemm.compile(M=32, N=32, K=32, block_M=32, block_N=32, block_K=32, dtype="float16",
                           accum_dtype="float")
    assert k_obj is k_str  # the same program, so the same kernel
    check_gemm(a, b, k_obj(a, b))
    assert T.float == "float32" and T.dtype("half") == T.float16 and T.float16 == "float16"
    assert T.float16.bits == 16 and T.float16.as_torch() is torch.float16 and tiledsl.DataType("int8").bits == 8
    assert str(T.infinity(T.float32)) == str(T.infinity("float32"))


def test_dynamic_m_shares_one_kernel():
    b = rand(32, 64)
    outs = []
    for m in (32, 96):
        a = rand(m, 64)
        c = P.gemm_dynamic_m(a, b)
        torch.testing.assert_close(c.double(), a.double() @ b.double().T, rtol=1e-2, atol=1e-2)
        outs.append(c)
    assert len({id(k) for k in P.gemm_dynamic_m._kernels.values()}) == 1
    a = rand(64, 64)
    (c,) = run_poisoned(P.gemm_dynamic_m, [a, b], out_shapes=[(64, 32)])
    torch.testing.assert_close(c.double(), a.double() @ b.double().T, rtol=1e-2, atol=1e-2)


def test_splitk_in_place():
    a, b = rand(64, 128), rand(128, 64)
    c = torch.zeros(64, 64)
    assert P.gemm_splitk(a, b, c, 2) is None
    check_gemm(a, b, c)


def test_dequantized_int4_gemm_with_a_python_helper():
    a = rand(32, 64)
    packed = torch.randint(0, 256, (32, 32), dtype=torch.uint8)
    (c,) = run_poisoned(P.gemm_dequant_int4, [a, packed])
    torch.testing.assert_close(c.double(), a.double() @ dequant_int4(packed).T, rtol=1e-2, atol=5e-2)


def test_rms_norm_two_outputs():
    x, w = rand(8, 64, dtype=torch.float32), rand(64, dtype=torch.float32)
    y, r = run_poisoned(P.rms_norm, [x, w])
    inv = torch.rsqrt(x.double().pow(2).mean(-1) + 1e-6)
    torch.testing.assert_close(r.double(), inv, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(y.double(), x.double() * inv[:, None] * w.double(), rtol=1e-4, atol=1e-4)
    y2, r2 = P.rms_norm(x, w)  # the call returns both outputs, in the order of `return`
    torch.testing.assert_close(y2, y)


def test_layer_norm_with_serial_loops_and_alloc_var():
    x = rand(4, 64, dtype=torch.float32) * 3 + 1
    (y,) = run_poisoned(P.layer_norm_serial, [x])
    xd = x.double()
    ref = (xd - xd.mean(-1, keepdim=True)) / torch.sqrt(xd.var(-1, unbiased=False, keepdim=True) + 1e-5)
    torch.testing.assert_close(y.double(), ref, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_forward(causal):
    q, k, v = (rand(1, 128, 2, 64) for _ in range(3))
    o, lse = run_poisoned(P.attention_fwd, [q, k, v], causal=causal)
    ref_o, ref_lse = ref_attention(q, k, v, causal)
    torch.testing.assert_close(o.double(), ref_o, rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(lse.double(), ref_lse, rtol=1e-3, atol=1e-3)


def test_attention_backward_dq():
    q, k, v, do = (rand(1, 64, 2, 32) for _ in range(4))
    o, lse = ref_attention(q, k, v)
    delta = (do.double() * o).sum(-1).transpose(1, 2).float().contiguous()
    (dq,) = run_poisoned(P.attention_bwd_dq, [q, k, v, do, lse.float().contiguous(), delta])
    torch.testing.assert_close(dq.double(), ref_dq(q, k, v, do), rtol=2e-2, atol=2e-2)


def test_decode_split_and_combine():
    q, k, v = rand(2, 2, 64), rand(2, 128, 2, 64), rand(2, 128, 2, 64)
    o_part, l_part = run_poisoned(P.decode_split, [q, k, v])
    (o,) = run_poisoned(P.decode_combine, [o_part, l_part])
    ref, _ = ref_attention(q[:, None], k, v)
    torch.testing.assert_close(o.double(), ref[:, 0], rtol=1e-2, atol=1e-2)


def test_view_of_a_tensors_memory():
    x = rand(8, 16, dtype=torch.float32)
    (y,) = run_poisoned(P.scale_flat_view, [x])
    torch.testing.assert_close(y, x.flatten() * 2)


@tiledsl.jit
def double_rows(X, block=16, dtype: T.dtype = T.float32):
    """Sizes M and N are never declared: names a tensor shape uses without defining them are sizes."""
    X: T.Tensor([M, N], dtype)  # noqa: F821
    Y = T.empty([M, N], dtype)  # noqa: F821
    with T.Kernel(T.ceildiv(M, block), threads=32) as bx:  # noqa: F821
        t = T.alloc_fragment([block, N], dtype)  # noqa: F821
        T.copy(X[bx * block, 0], t)
        for i, j in T.Parallel(block, N):  # noqa: F821
            t[i, j] = t[i, j] * 2
        T.copy(t, Y[bx * block, 0])
    return Y


def test_undeclared_shape_names_are_sizes():
    x = rand(32, 8, dtype=torch.float32)
    (y,) = run_poisoned(double_rows, [x])
    torch.testing.assert_close(y, 2 * x)
    assert double_rows.func.program.source.const_names == ["M", "N"]


# ---------------------------------------------------------------------------------------------- mistakes
def test_wrong_rank_is_a_clear_error():
    with pytest.raises(KernelArgumentError, match="dimensions"):
        P.gemm(rand(4, 4, 4), rand(4, 4))


def test_calling_without_tensors_says_to_use_compile():
    with pytest.raises(TileProgramError, match=r"\.compile"):
        P.gemm(None, None)


def test_missing_size_is_named():
    with pytest.raises(TileProgramError, match="'N'"):
        P.gemm.get_tir(M=32, K=32)


def test_unsupported_name_points_at_the_users_line():
    @tiledsl.jit
    def uses_block_barrier(A):
        N = T.const("N")
        A: T.Tensor((N,), T.float32)
        with T.Kernel(1, threads=32):
            T.fence_proxy_async()
    with pytest.raises(TileProgramError, match=r"fence_proxy_async is not supported") as err:
        uses_block_barrier.compile(N=32)
    assert "test_eager_frontend.py" in str(err.value)


def test_output_not_returned_is_an_error():
    def body(A):
        N = T.const("N")
        A: T.Tensor((N,), T.float32)
        B = T.empty((N,), T.float32)  # noqa: F841
        with T.Kernel(1, threads=32):
            T.evaluate(0)
    with pytest.raises(TileProgramError, match="never returned"):
        tiledsl.jit(body)


def test_classic_factories_still_work():
    @tiledsl.jit(out_idx=[-1])
    def add(N, dtype=T.float32):
        @T.prim_func
        def main(A: T.Tensor((N,), dtype), B: T.Tensor((N,), dtype)):
            with T.Kernel(1, threads=32):
                for i in T.Parallel(N):
                    B[i] = A[i] + T.float32(1)
        return main
    x = rand(64, dtype=torch.float32)
    torch.testing.assert_close(add(64)(x), x + 1)


# ---------------------------------------------------------------------------------------------- nvcc builds
NVCC_CASES = {
    "gemm": (P.gemm, dict(M=256, N=256, K=256, block_M=128, block_N=128, block_K=32, num_stages=3)),
    "gemm_dynamic_m": (P.gemm_dynamic_m, dict(N=256, K=256)),
    "gemm_splitk": (P.gemm_splitk, dict(M=256, N=256, K=512, split_k=4)),
    "gemm_dequant_int4": (P.gemm_dequant_int4, dict(M=128, N=128, K=256)),
    "rms_norm": (P.rms_norm, dict(M=64, N=256)),
    "layer_norm_serial": (P.layer_norm_serial, dict(M=64, N=256)),
    "attention_fwd": (P.attention_fwd, dict(B=1, S=256, H=2, D=64, causal=True)),
    "attention_bwd_dq": (P.attention_bwd_dq, dict(B=1, S=256, H=2, D=64)),
    "decode_split": (P.decode_split, dict(B=2, H=2, S=256, D=64)),
    "decode_combine": (P.decode_combine, dict(B=2, H=2, NS=2, D=64)),
    "scale_flat_view": (P.scale_flat_view, dict(M=64, N=64)),
}


@pytest.mark.nvcc
@pytest.mark.parametrize("arch", ["sm_80", "sm_90a"])
@pytest.mark.parametrize("name", sorted(NVCC_CASES))
def test_builds_for_cuda(name, arch):
    fn, kwargs = NVCC_CASES[name]
    kernel = fn.compile(target={"kind": "cuda", "arch": arch}, **kwargs)
    assert "__global__" in kernel.get_kernel_source()


# ---------------------------------------------------------------------------------------------- GPU runs
@pytest.mark.gpu
def test_gpu_gemm_and_splitk():
    a, b = rand(512, 256, device="cuda"), rand(256, 384, device="cuda")
    check_gemm(a, b, P.gemm(a, b, block_M=128, block_N=128, block_K=32, num_stages=3))
    (c,) = run_poisoned(P.gemm, [a, b], target="auto", block_M=128, block_N=128, block_K=32)
    check_gemm(a, b, c)
    c = torch.zeros(512, 384, device="cuda")
    P.gemm_splitk(a, b, c, 4, block_M=64, block_N=64)
    check_gemm(a, b, c)


@pytest.mark.gpu
def test_gpu_dequant_and_norms():
    a = rand(128, 256, device="cuda")
    packed = torch.randint(0, 256, (128, 128), dtype=torch.uint8, device="cuda")
    (c,) = run_poisoned(P.gemm_dequant_int4, [a, packed], target="auto")
    torch.testing.assert_close(c.double(), a.double() @ dequant_int4(packed).T, rtol=1e-2, atol=5e-2)
    x, w = rand(64, 256, dtype=torch.float32, device="cuda"), rand(256, dtype=torch.float32, device="cuda")
    y, r = run_poisoned(P.rms_norm, [x, w], target="auto")
    inv = torch.rsqrt(x.double().pow(2).mean(-1) + 1e-6)
    torch.testing.assert_close(y.double(), x.double() * inv[:, None] * w.double(), rtol=1e-4, atol=1e-4)
    (y,) = run_poisoned(P.layer_norm_serial, [x], target="auto")
    xd = x.double()
    ref = (xd - xd.mean(-1, keepdim=True)) / torch.sqrt(xd.var(-1, unbiased=False, keepdim=True) + 1e-5)
    torch.testing.assert_close(y.double(), ref, rtol=1e-3, atol=1e-3)


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
def test_gpu_attention_forward_and_backward(causal):
    q, k, v, do = (rand(2, 512, 4, 64, device="cuda") for _ in range(4))
    o, lse = run_poisoned(P.attention_fwd, [q, k, v], target="auto", causal=causal)
    ref_o, ref_lse = ref_attention(q, k, v, causal)
    torch.testing.assert_close(o.double(), ref_o, rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(lse.double(), ref_lse, rtol=1e-3, atol=1e-3)
    if not causal:
        delta = (do.double() * ref_o).sum(-1).transpose(1, 2).float().contiguous()
        (dq,) = run_poisoned(P.attention_bwd_dq, [q, k, v, do, ref_lse.float().contiguous(), delta],
                             target="auto")
        torch.testing.assert_close(dq.double(), ref_dq(q, k, v, do), rtol=2e-2, atol=2e-2)


@pytest.mark.gpu
def test_gpu_decode():
    q, k, v = rand(4, 8, 128, device="cuda"), rand(4, 1024, 8, 128, device="cuda"), rand(4, 1024, 8, 128,
                                                                                          device="cuda")
    o_part, l_part = run_poisoned(P.decode_split, [q, k, v], target="auto", num_split=4)
    (o,) = run_poisoned(P.decode_combine, [o_part, l_part], target="auto")
    ref, _ = ref_attention(q[:, None], k, v)
    torch.testing.assert_close(o.double(), ref[:, 0], rtol=1e-2, atol=1e-2)


# ---------------------------------------------------------------------------------------------- autotuning
@tiledsl.autotune(configs=[{"block_M": 32}, {"block_M": 64}], warmup=1, rep=2)
@tiledsl.jit
def tuned_gemm(A, B, block_M=32, block_N=32, block_K=32):
    M, N, K = T.const("M, N, K")
    A: T.Tensor((M, K), T.float16)
    B: T.Tensor((K, N), T.float16)
    C = T.empty((M, N), T.float16)
    with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=128) as (bx, by):
        A_s = T.alloc_shared((block_M, block_K), T.float16)
        B_s = T.alloc_shared((block_K, block_N), T.float16)
        acc = T.alloc_fragment((block_M, block_N), T.float32)
        T.clear(acc)
        for ko in T.Pipelined(T.ceildiv(K, block_K), num_stages=1):
            T.copy(A[by * block_M, ko * block_K], A_s)
            T.copy(B[ko * block_K, bx * block_N], B_s)
            T.gemm(A_s, B_s, acc)
        T.copy(acc, C[by * block_M, bx * block_N])
    return C


def test_autotune_on_a_newer_style_kernel():
    kernel = tuned_gemm.compile(M=64, N=32, K=64)
    assert kernel.config in ({"block_M": 32}, {"block_M": 64})
    a, b = rand(64, 64), rand(64, 32)
    check_gemm(a, b, tuned_gemm(a, b))  # called with tensors: tuned for their sizes (cached), then run
    result = tiledsl.AutoTuner.from_kernel(tuned_gemm.jit_impl, configs=[{"block_N": 32}]).set_kernel_parameters(
        (), {"M": 64, "N": 32, "K": 64}).set_profile_args(warmup=1, rep=1).run()
    check_gemm(a, b, result.kernel(a, b))
