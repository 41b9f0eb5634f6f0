"""Example-style tile programs used by the CUDA tests (compile-only and GPU), with torch references.

The programs also run on the CPU target here, which checks the programs themselves against torch, so a CUDA test
failure points at the CUDA lowering and not at the program.
"""
import pytest
import torch

import tiledsl
import tiledsl.language as T


def gemm(M, N, K, block_M=64, block_N=64, block_K=32, num_stages=2, threads=128, dtype="float16",
         trans_A=False, trans_B=False, swizzle=False, panel=4):
    """C = A @ B (A (M, K) or (K, M) transposed, B (K, N) or (N, K) transposed), fp32 accumulate."""
    a_shape = (K, M) if trans_A else (M, K)
    b_shape = (N, K) if trans_B else (K, N)
    a_tile = (block_K, block_M) if trans_A else (block_M, block_K)
    b_tile = (block_N, block_K) if trans_B else (block_K, block_N)

    @T.prim_func
    def kernel(A: T.Tensor(a_shape, dtype), B: T.Tensor(b_shape, dtype), C: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared(a_tile, dtype)
            B_s = T.alloc_shared(b_tile, dtype)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            if swizzle:
                T.use_swizzle(panel_size=panel)
            T.clear(C_f)
            for ko in T.Pipelined(T.ceildiv(K, block_K), num_stages=num_stages):
                if trans_A:
                    T.copy(A[ko * block_K, by * block_M], A_s)
                else:
                    T.copy(A[by * block_M, ko * block_K], A_s)
                if trans_B:
                    T.copy(B[bx * block_N, ko * block_K], B_s)
                else:
                    T.copy(B[ko * block_K, bx * block_N], B_s)
                T.gemm(A_s, B_s, C_f, transpose_A=trans_A, transpose_B=trans_B)
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def gemm_ref(A, B, trans_A=False, trans_B=False):
    a = A.float().T if trans_A else A.float()
    b = B.float().T if trans_B else B.float()
    return a @ b


def elementwise_add(M, N, block_M=32, block_N=128, threads=128, dtype="float32"):
    """C = A + B * 2 over a 2-d grid of tiles, straight from global memory."""
    @T.prim_func
    def kernel(A: T.Tensor((M, N), dtype), B: T.Tensor((M, N), dtype), C: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            for i, j in T.Parallel(block_M, block_N):
                C[by * block_M + i, bx * block_N + j] = A[by * block_M + i, bx * block_N + j] + \
                    B[by * block_M + i, bx * block_N + j] * T.cast(2, dtype)
    return kernel


def softmax(M, N, block_M=1, threads=128, dtype="float32"):
    """Row softmax: each block takes block_M whole rows (N fits a fragment)."""
    @T.prim_func
    def kernel(X: T.Tensor((M, N), dtype), Y: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(M, block_M), threads=threads) as bx:
            x = T.alloc_fragment((block_M, N), "float32")
            mx = T.alloc_fragment((block_M,), "float32")
            sm = T.alloc_fragment((block_M,), "float32")
            T.copy(X[bx * block_M, 0], x)
            T.reduce_max(x, mx, dim=1)
            for i, j in T.Parallel(block_M, N):
                x[i, j] = T.exp(x[i, j] - mx[i])
            T.reduce_sum(x, sm, dim=1)
            for i, j in T.Parallel(block_M, N):
                x[i, j] = x[i, j] / sm[i]
            T.copy(x, Y[bx * block_M, 0])
    return kernel


def rms_norm(M, N, block_M=2, threads=128, dtype="float16"):
    """y = x * rsqrt(mean(x^2) + eps), computed in fp32, via a shared-memory staging tile."""
    @T.prim_func
    def kernel(X: T.Tensor((M, N), dtype), Y: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(M, block_M), threads=threads) as bx:
            xs = T.alloc_shared((block_M, N), dtype)
            x = T.alloc_fragment((block_M, N), "float32")
            sq = T.alloc_fragment((block_M, N), "float32")
            ss = T.alloc_fragment((block_M,), "float32")
            T.copy(X[bx * block_M, 0], xs)
            T.copy(xs, x)
            for i, j in T.Parallel(block_M, N):
                sq[i, j] = x[i, j] * x[i, j]
            T.reduce_sum(sq, ss, dim=1)
            for i in T.Parallel(block_M):
                ss[i] = T.rsqrt(ss[i] / N + T.float32(1e-6))
            for i, j in T.Parallel(block_M, N):
                x[i, j] = x[i, j] * ss[i]
            T.copy(x, Y[bx * block_M, 0])
    return kernel


def col_reduce(M, N, block_M=64, block_N=32, threads=128, kind="sum"):
    """Per-block column reductions of a (M, N) float32 tensor, atomically summed (sum) into out (N,)."""
    reducer = {"sum": T.reduce_sum, "absmax": T.reduce_absmax}[kind]

    @T.prim_func
    def kernel(X: T.Tensor((M, N), "float32"), O: T.Tensor((N,), "float32")):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            x = T.alloc_fragment((block_M, block_N), "float32")
            r = T.alloc_fragment((block_N,), "float32")
            T.copy(X[by * block_M, bx * block_N], x)
            reducer(x, r, dim=0)
            T.atomic_add(O[bx * block_N], r)
    return kernel


def row_max(M, N, block_M=4, threads=64):
    """out[i] = max_j X[i, j] through a shared tile and a fragment; writes via T.Parallel."""
    @T.prim_func
    def kernel(X: T.Tensor((M, N), "float32"), O: T.Tensor((M,), "float32")):
        with T.Kernel(T.ceildiv(M, block_M), threads=threads) as bx:
            x = T.alloc_fragment((block_M, N), "float32")
            r = T.alloc_fragment((block_M,), "float32")
            T.copy(X[bx * block_M, 0], x)
            T.reduce_max(x, r, dim=1)
            for i in T.Parallel(block_M):
                O[bx * block_M + i] = r[i]
    return kernel


def scalar_atomic(N, block=128):
    """out[0] += sum of X, one atomic per element, written with per-thread code (T.get_thread_binding)."""
    @T.prim_func
    def kernel(X: T.Tensor((N,), "float32"), O: T.Tensor((1,), "float32")):
        with T.Kernel(T.ceildiv(N, block), threads=block) as bx:
            tx = T.get_thread_binding()
            if bx * block + tx < N:
                T.atomic_add(O[0], X[bx * block + tx])
    return kernel


def gemm_dynamic_m(N, K, block_M=64, block_N=64, block_K=32, num_stages=3, dtype="float16"):
    """C = A @ B with M bound at call time (ragged last row tile: cp.async zero-fill and guarded stores)."""
    M = T.dynamic("M")

    @T.prim_func
    def kernel(A: T.Tensor((M, K), dtype), B: T.Tensor((K, N), dtype), C: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=128) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), dtype)
            B_s = T.alloc_shared((block_K, block_N), dtype)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for ko in T.Pipelined(T.ceildiv(K, block_K), num_stages=num_stages):
                T.copy(A[by * block_M, ko * block_K], A_s)
                T.copy(B[ko * block_K, bx * block_N], B_s)
                T.gemm(A_s, B_s, C_f)
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def attention_tile(BH, S, D, block_M=64, threads=128, dtype="float16"):
    """O = softmax(Q K^T / sqrt(D)) V for one block of query rows against all S keys at once: two tensor-core
    gemms, row statistics reduced from the mma accumulator, a T.Parallel over it, P staged through shared memory."""
    scale = 1.0 / D ** 0.5

    @T.prim_func
    def kernel(Q: T.Tensor((BH, S, D), dtype), K: T.Tensor((BH, S, D), dtype), V: T.Tensor((BH, S, D), dtype),
               O: T.Tensor((BH, S, D), dtype)):
        with T.Kernel(T.ceildiv(S, block_M), BH, threads=threads) as (bx, bz):
            Q_s = T.alloc_shared((block_M, D), dtype)
            K_s = T.alloc_shared((S, D), dtype)
            V_s = T.alloc_shared((S, D), dtype)
            P_s = T.alloc_shared((block_M, S), dtype)
            s_f = T.alloc_fragment((block_M, S), "float32")
            o_f = T.alloc_fragment((block_M, D), "float32")
            m = T.alloc_fragment((block_M,), "float32")
            l = T.alloc_fragment((block_M,), "float32")
            T.copy(Q[bz, bx * block_M, 0], Q_s)
            T.copy(K[bz, 0, 0], K_s)
            T.copy(V[bz, 0, 0], V_s)
            T.gemm(Q_s, K_s, s_f, transpose_B=True, clear_accum=True)
            T.reduce_max(s_f, m, dim=1)
            for i, j in T.Parallel(block_M, S):
                s_f[i, j] = T.exp((s_f[i, j] - m[i]) * T.float32(scale))
            T.reduce_sum(s_f, l, dim=1)
            T.copy(s_f, P_s)
            T.gemm(P_s, V_s, o_f, clear_accum=True)
            for i, j in T.Parallel(block_M, D):
                o_f[i, j] = o_f[i, j] / l[i]
            T.copy(o_f, O[bz, bx * block_M, 0])
    return kernel


def attention_ref(q, k, v):
    s = q.float() @ k.float().transpose(-1, -2) / q.shape[-1] ** 0.5
    return torch.softmax(s, dim=-1) @ v.float()


def flash_attention(B, H, S, D, causal, block_M=64, block_N=64, num_stages=2, threads=128):
    """Flash attention forward with online softmax, TileLang's documented style (P kept in a fragment)."""
    scale = (1.0 / D) ** 0.5 * 1.44269504
    shape = [B, S, H, D]

    @T.prim_func
    def kernel(Q: T.Tensor(shape, "float16"), K: T.Tensor(shape, "float16"), V: T.Tensor(shape, "float16"),
               O: T.Tensor(shape, "float16")):
        with T.Kernel(T.ceildiv(S, block_M), H, B, threads=threads) as (bx, by, bz):
            Q_s = T.alloc_shared([block_M, D], "float16")
            K_s = T.alloc_shared([block_N, D], "float16")
            V_s = T.alloc_shared([block_N, D], "float16")
            acc_s = T.alloc_fragment([block_M, block_N], "float32")
            acc_s_cast = T.alloc_fragment([block_M, block_N], "float16")
            acc_o = T.alloc_fragment([block_M, D], "float32")
            m = T.alloc_fragment([block_M], "float32")
            m_prev = T.alloc_fragment([block_M], "float32")
            rescale = T.alloc_fragment([block_M], "float32")
            rsum = T.alloc_fragment([block_M], "float32")
            lsum = T.alloc_fragment([block_M], "float32")
            T.copy(Q[bz, bx * block_M:(bx + 1) * block_M, by, :], Q_s)
            T.fill(acc_o, 0)
            T.fill(lsum, 0)
            T.fill(m, -T.infinity("float32"))
            n_blocks = T.min(T.ceildiv(S, block_N), T.ceildiv((bx + 1) * block_M, block_N)) if causal \
                else T.ceildiv(S, block_N)
            for k in T.Pipelined(n_blocks, num_stages=num_stages):
                T.copy(K[bz, k * block_N:(k + 1) * block_N, by, :], K_s)
                if causal:
                    for i, j in T.Parallel(block_M, block_N):
                        acc_s[i, j] = T.if_then_else(bx * block_M + i >= k * block_N + j, 0, -T.infinity("float32"))
                else:
                    for i, j in T.Parallel(block_M, block_N):
                        acc_s[i, j] = T.if_then_else(k * block_N + j >= S, -T.infinity("float32"), 0)
                T.gemm(Q_s, K_s, acc_s, transpose_B=True)
                T.copy(m, m_prev)
                T.reduce_max(acc_s, m, dim=1, clear=False)
                for i in T.Parallel(block_M):
                    rescale[i] = T.exp2(m_prev[i] * scale - m[i] * scale)
                for i, j in T.Parallel(block_M, block_N):
                    acc_s[i, j] = T.exp2(acc_s[i, j] * scale - m[i] * scale)
                T.reduce_sum(acc_s, rsum, dim=1)
                for i in T.Parallel(block_M):
                    lsum[i] = lsum[i] * rescale[i] + rsum[i]
                T.copy(acc_s, acc_s_cast)
                for i, j in T.Parallel(block_M, D):
                    acc_o[i, j] *= rescale[i]
                T.copy(V[bz, k * block_N:(k + 1) * block_N, by, :], V_s)
                T.gemm(acc_s_cast, V_s, acc_o)
            for i, j in T.Parallel(block_M, D):
                acc_o[i, j] /= lsum[i]
            T.copy(acc_o, O[bz, bx * block_M:(bx + 1) * block_M, by, :])
    return kernel


def flash_ref(causal):
    def ref(q, k, v):
        q, k, v = (x.float().transpose(1, 2) for x in (q, k, v))
        s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
        if causal:
            n = s.shape[-1]
            s = s.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
        return (torch.softmax(s, -1) @ v).transpose(1, 2)
    return ref


def relayout(M, N, K=32):
    """A tensor-core accumulator copied into another fragment, which takes over the mma layout (layout inference
    along copies), then scaled in a T.Parallel and stored. O = (A @ B) * 2."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), O: T.Tensor((M, N), "float32")):
        with T.Kernel(1, threads=128) as bx:
            A_s = T.alloc_shared((M, K), "float16")
            B_s = T.alloc_shared((K, N), "float16")
            acc = T.alloc_fragment((M, N), "float32")
            out = T.alloc_fragment((M, N), "float32")
            T.copy(A, A_s)
            T.copy(B, B_s)
            T.gemm(A_s, B_s, acc, clear_accum=True)
            T.fill(out, 0)
            T.copy(acc, out)
            for i, j in T.Parallel(M, N):
                out[i, j] = out[i, j] * T.float32(2)
            T.copy(out, O)
    return kernel


def gather(M, N, threads=128):
    """A distributed fragment copied into a replicated one (a reduction output), then read at other threads'
    elements: O[i, j] = 2 * X[0, (i + j) % M]."""
    @T.prim_func
    def kernel(X: T.Tensor((M, N), "float32"), O: T.Tensor((M, N), "float32")):
        with T.Kernel(1, threads=threads) as bx:
            x = T.alloc_fragment((M, N), "float32")
            z = T.alloc_fragment((M,), "float32")
            y = T.alloc_fragment((M,), "float32")
            T.copy(X, x)
            T.reduce_max(x, y, dim=1)  # makes y replicated
            for i in T.Parallel(M):
                z[i] = X[0, i] * T.float32(2)
            T.copy(z, y)
            for i, j in T.Parallel(M, N):
                O[i, j] = y[(i + j) % M]
    return kernel


# ---------------------------------------------------------------- the cases
class Case:
    """A program, how to make its inputs, and the float32 torch reference of its last parameter (the output).

    ``accumulate``: the output starts at zero and the kernel adds into it (atomics), so it cannot be poisoned.
    """

    def __init__(self, func, inputs, ref, tol, accumulate=False):
        self.func, self.inputs, self.ref, self.tol, self.accumulate = func, inputs, ref, tol, accumulate


def _gemm_case(dtype, M, N, K, **kw):
    tdt = getattr(torch, dtype)
    ta, tb = kw.get("trans_A", False), kw.get("trans_B", False)

    def inputs(device):
        return [torch.randn((K, M) if ta else (M, K), device=device).to(tdt),
                torch.randn((N, K) if tb else (K, N), device=device).to(tdt)]
    return Case(gemm(M, N, K, dtype=dtype, **kw), inputs, lambda a, b: gemm_ref(a, b, ta, tb), 2e-2)


def cases():
    """Every example-style program, by name."""
    return {
        "gemm_f16": _gemm_case("float16", 256, 256, 128),
        "gemm_bf16_ragged": _gemm_case("bfloat16", 200, 136, 100),
        "gemm_f16_tn_swz": _gemm_case("float16", 128, 192, 96, trans_A=True, trans_B=True, swizzle=True),
        "gemm_f16_128x128_s3": _gemm_case("float16", 512, 384, 256, block_M=128, block_N=128, block_K=32,
                                          num_stages=3),
        "gemm_f16_swz_panels": _gemm_case("float16", 384, 320, 64, swizzle=True, panel=2),
        "gemm_f16_64thr": _gemm_case("float16", 70, 50, 40, block_M=32, block_N=32, block_K=16, threads=64),
        # skinny tiles: 16 rows over many warps, so each warp owns 8 (or 24) columns (ldmatrix .x2 for the last 8)
        "gemm_f16_skinny_8_cols": _gemm_case("float16", 40, 200, 96, block_M=16, block_N=64, block_K=32, threads=256),
        "gemm_bf16_skinny_24_cols_tb": _gemm_case("bfloat16", 30, 150, 64, block_M=16, block_N=96, block_K=32,
                                                  trans_B=True),
        "gemm_f32_fma": Case(gemm(70, 50, 40, block_M=32, block_N=32, block_K=8, dtype="float32"),
                             lambda d: [torch.randn(70, 40, device=d), torch.randn(40, 50, device=d)],
                             gemm_ref, 1e-4),
        "gemm_f16_dynamic_m": Case(gemm_dynamic_m(192, 96),
                                   lambda d: [torch.randn(150, 96, device=d).half(),
                                              torch.randn(96, 192, device=d).half()], gemm_ref, 2e-2),
        "flash_attention": Case(flash_attention(1, 2, 200, 64, False),
                                lambda d: [torch.randn(1, 200, 2, 64, device=d).half() for _ in range(3)],
                                flash_ref(False), 2e-2),
        "flash_attention_causal": Case(flash_attention(1, 2, 200, 64, True),
                                       lambda d: [torch.randn(1, 200, 2, 64, device=d).half() for _ in range(3)],
                                       flash_ref(True), 2e-2),
        "attention_tile": Case(attention_tile(2, 128, 64),
                               lambda d: [torch.randn(2, 128, 64, device=d).half() for _ in range(3)],
                               attention_ref, 1e-2),
        "relayout": Case(relayout(64, 64), lambda d: [torch.randn(64, 32, device=d).half(),
                                                      torch.randn(32, 64, device=d).half()],
                         lambda a, b: 2 * (a.float() @ b.float()), 2e-2),
        "gather": Case(gather(32, 64), lambda d: [torch.randn(32, 64, device=d)],
                       lambda x: 2 * x[0, (torch.arange(32, device=x.device)[:, None]
                                           + torch.arange(64, device=x.device)[None, :]) % 32], 1e-6),
        "elementwise": Case(elementwise_add(100, 300), lambda d: [torch.randn(100, 300, device=d),
                                                                  torch.randn(100, 300, device=d)],
                            lambda a, b: a + b * 2, 1e-5),
        "softmax": Case(softmax(37, 512), lambda d: [torch.randn(37, 512, device=d)],
                        lambda x: torch.softmax(x, dim=1), 1e-5),
        "rms_norm": Case(rms_norm(9, 256), lambda d: [torch.randn(9, 256, device=d).half()],
                         lambda x: x.float() * torch.rsqrt(x.float().pow(2).mean(1, keepdim=True) + 1e-6), 2e-3),
        "col_reduce": Case(col_reduce(130, 70), lambda d: [torch.randn(130, 70, device=d)],
                           lambda x: x.sum(0), 1e-4, accumulate=True),
        "row_max": Case(row_max(10, 200), lambda d: [torch.randn(10, 200, device=d)],
                        lambda x: x.max(1).values, 1e-6),
        "scalar_atomic": Case(scalar_atomic(1000), lambda d: [torch.randn(1000, device=d)],
                              lambda x: x.sum().reshape(1), 1e-3, accumulate=True),
    }


def poisoned(like):
    """NaN-filled (or -123 for integers) tensor shaped like ``like``."""
    if like.dtype.is_floating_point:
        return torch.full_like(like, float("nan"))
    return torch.full_like(like, -123)


def run_case(name, target, device):
    """Compile and run one case (output passed in, poisoned first); returns (got, expected, tol)."""
    case = cases()[name]
    kernel = tiledsl.compile(case.func, out_idx=[], target=target)
    inputs = case.inputs(device)
    want = case.ref(*inputs).float()
    out_dtype = getattr(torch, str(case.func.params[-1].ty.dtype))
    out = torch.zeros(want.shape, dtype=out_dtype, device=device) if case.accumulate else \
        poisoned(torch.empty(want.shape, dtype=out_dtype, device=device))
    kernel(*inputs, out)
    return out, want, case.tol


CPU_CASES = ["relayout", "flash_attention_causal", "attention_tile", "gather", "gemm_bf16_ragged", "gemm_f32_fma", "elementwise", "softmax", "rms_norm", "col_reduce", "row_max",
             "scalar_atomic"]


@pytest.mark.parametrize("name", CPU_CASES)
def test_programs_on_cpu(name):
    got, want, tol = run_case(name, "llvm", "cpu")
    torch.testing.assert_close(got.float(), want, rtol=tol, atol=tol)
