"""Tile programs in TileLang's newer style (sizes from ``T.const``, tensors annotated in the body, ``T.empty``
outputs returned), one per feature, shared by the CPU, nvcc and GPU tests. Written for tiledsl's tests."""
import tvm
from tvm import tirx

import tiledsl
import tiledsl.language as T


@tiledsl.jit
def gemm(A, B, block_M=64, block_N=64, block_K=32, num_stages=2, threads=128, dtype=T.float16,
         accum_dtype=T.float):
    """C = A @ B with every size read off A and B."""
    M, N, K = T.const("M, N, K")
    A: T.Tensor((M, K), dtype)
    B: T.Tensor((K, N), dtype)
    C = T.empty((M, N), dtype)
    with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
        A_s = T.alloc_shared((block_M, block_K), dtype)
        B_s = T.alloc_shared((block_K, block_N), dtype)
        acc = T.alloc_fragment((block_M, block_N), accum_dtype)
        T.clear(acc)
        for ko in T.Pipelined(T.ceildiv(K, block_K), num_stages=num_stages):
            T.copy(A[by * block_M, ko * block_K], A_s)
            T.copy(B[ko * block_K, bx * block_N], B_s)
            T.gemm(A_s, B_s, acc)
        T.copy(acc, C[by * block_M, bx * block_N])
    return C


@tiledsl.jit
def gemm_dynamic_m(A, B, block_M=32, block_N=32, block_K=32, dtype="float16"):
    """C = A @ B^T with M left dynamic (one kernel for every M) and N, K compile-time sizes."""
    M = T.dynamic("M")
    N, K = T.const("N, K")
    A: T.Tensor[(M, K), dtype]
    B: T.Tensor[(N, K), dtype]
    C = T.empty((M, N), T.float32)
    with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=128) as (bx, by):
        A_s = T.alloc_shared((block_M, block_K), dtype)
        B_s = T.alloc_shared((block_N, block_K), dtype)
        acc = T.alloc_fragment((block_M, block_N), T.float32)
        T.clear(acc)
        for ko in T.Pipelined(T.ceildiv(K, block_K), num_stages=1):
            T.copy(A[by * block_M, ko * block_K], A_s)
            T.copy(B[bx * block_N, ko * block_K], B_s)
            T.gemm(A_s, B_s, acc, transpose_B=True)
        T.copy(acc, C[by * block_M, bx * block_N])
    return C


@tiledsl.jit
def gemm_splitk(A, B, C, split_k, block_M=32, block_N=32, block_K=32, dtype=T.float16):
    """C += A @ B, the K range split over ``split_k`` blocks that add their partial products atomically
    (an in-place kernel: C is an argument, nothing is returned)."""
    M, N, K = T.const("M, N, K")
    k_per_split = K // split_k
    A: T.Tensor((M, K), dtype)
    B: T.Tensor((K, N), dtype)
    C: T.Tensor((M, N), T.float32)
    with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), split_k, threads=128) as (bx, by, bz):
        A_s = T.alloc_shared((block_M, block_K), dtype)
        B_s = T.alloc_shared((block_K, block_N), dtype)
        acc = T.alloc_fragment((block_M, block_N), T.float32)
        T.clear(acc)
        for ko in T.Pipelined(T.ceildiv(k_per_split, block_K), num_stages=1):
            T.copy(A[by * block_M, bz * k_per_split + ko * block_K], A_s)
            T.copy(B[bz * k_per_split + ko * block_K, bx * block_N], B_s)
            T.gemm(A_s, B_s, acc)
        for i, j in T.Parallel(block_M, block_N):
            T.atomic_add(C[by * block_M + i, bx * block_N + j], acc[i, j])


def int4_to_half(packed, pos, dtype):
    """A Python helper building TIR from a loaded byte: the signed 4-bit value at nibble ``pos`` as ``dtype``.
    It reads ``packed.dtype`` (the loaded element's dtype), as TileLang's dequantize helpers do."""
    shift = (pos * 4).astype(packed.dtype)
    nibble = (packed >> shift) & tirx.const(0xF, packed.dtype)
    signed = nibble.astype(T.int8) - T.if_then_else(nibble >= tirx.const(8, packed.dtype), T.int8(16), T.int8(0))
    return signed.astype(dtype)


@tiledsl.jit
def gemm_dequant_int4(A, B, block_M=32, block_N=32, block_K=32, dtype=T.float16, accum_dtype=T.float32):
    """C = A @ dequant(B)^T where B holds two signed int4 values per byte along K."""
    M, N, K = T.const("M, N, K")
    A: T.Tensor((M, K), dtype)
    B: T.Tensor((N, K // 2), T.uint8)
    C = T.empty((M, N), dtype)
    with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=128) as (bx, by):
        A_s = T.alloc_shared((block_M, block_K), dtype)
        B_packed = T.alloc_shared((block_N, block_K // 2), T.uint8)
        B_s = T.alloc_shared((block_N, block_K), dtype)
        acc = T.alloc_fragment((block_M, block_N), accum_dtype)
        T.clear(acc)
        for ko in T.Pipelined(T.ceildiv(K, block_K), num_stages=1):
            T.copy(A[by * block_M, ko * block_K], A_s)
            T.copy(B[bx * block_N, ko * (block_K // 2)], B_packed)
            for i, j in T.Parallel(block_N, block_K):
                B_s[i, j] = int4_to_half(B_packed[i, j // 2], j % 2, dtype)
            T.gemm(A_s, B_s, acc, transpose_B=True)
        T.copy(acc, C[by * block_M, bx * block_N])
    return C


@tiledsl.jit
def rms_norm(X, W, block_M=4, eps=1e-6):
    """Y = X / sqrt(mean(X^2) + eps) * W over rows, the whole row in one tile; also returns the inverse RMS."""
    M, N = T.const("M, N")
    dtype = T.float
    X: T.Tensor((M, N), dtype)
    W: T.Tensor((N,), dtype)
    Y = T.empty((M, N), dtype)
    R = T.empty((M,), dtype)
    with T.Kernel(T.ceildiv(M, block_M), threads=128) as bx:
        x = T.alloc_fragment((block_M, N), dtype)
        sq = T.alloc_fragment((block_M, N), dtype)
        ssum = T.alloc_fragment((block_M,), dtype)
        T.copy(X[bx * block_M, 0], x)
        for i, j in T.Parallel(block_M, N):
            sq[i, j] = x[i, j] * x[i, j]
        T.reduce_sum(sq, ssum, dim=1)
        for i in T.Parallel(block_M):
            ssum[i] = T.rsqrt(ssum[i] / N + eps)
        for i, j in T.Parallel(block_M, N):
            x[i, j] = x[i, j] * ssum[i] * W[j]
        T.copy(x, Y[bx * block_M, 0])
        T.copy(ssum, R[bx * block_M])
    return Y, R


@tiledsl.jit
def layer_norm_serial(X, block_M=2, block_N=16):
    """Y = (X - mean) / std over rows, walking each row in ``block_N`` chunks with T.Serial and a T.alloc_var."""
    M, N = T.const("M, N")
    X: T.Tensor((M, N), T.float32)
    Y = T.empty((M, N), T.float32)
    with T.Kernel(M, threads=32) as row:
        chunk = T.alloc_shared((block_N,), T.float32)
        total = T.alloc_var(T.float32)
        total_sq = T.alloc_var(T.float32)
        T.clear(total)
        total_sq = 0.0
        for k in T.Serial(N // block_N):
            T.copy(X[row, k * block_N], chunk)
            for j in T.serial(block_N):
                total = total + chunk[j]
                total_sq = total_sq + chunk[j] * chunk[j]
        mean = T.alloc_var(T.float32, init=total / N)
        rstd = T.alloc_var(T.float32)
        rstd = T.rsqrt(total_sq / N - mean * mean + T.float32(1e-5))
        for k in T.Serial(N // block_N):
            T.copy(X[row, k * block_N], chunk)
            for j in T.Parallel(block_N):
                chunk[j] = (chunk[j] - mean[0]) * rstd
            T.copy(chunk, Y[row, k * block_N])
    return Y


@tiledsl.jit
def attention_fwd(Q, K, V, causal=False, block_M=64, block_N=64, threads=128, dtype=T.float16):
    """Flash attention forward, (batch, seq, heads, dim) layout; returns O and the log-sum-exp (base e)."""
    B, S, H, D = T.const("B, S, H, D")
    Q: T.Tensor((B, S, H, D), dtype)
    K: T.Tensor((B, S, H, D), dtype)
    V: T.Tensor((B, S, H, D), dtype)
    O = T.empty((B, S, H, D), dtype)
    L = T.empty((B, H, S), T.float32)
    scale = (1.0 / D) ** 0.5 * 1.44269504  # log2(e)
    with T.Kernel(T.ceildiv(S, block_M), H, B, threads=threads) as (bx, by, bz):
        Q_s = T.alloc_shared((block_M, D), dtype)
        K_s = T.alloc_shared((block_N, D), dtype)
        V_s = T.alloc_shared((block_N, D), dtype)
        S_f = T.alloc_fragment((block_M, block_N), T.float32)
        P = T.alloc_fragment((block_M, block_N), dtype)
        acc = T.alloc_fragment((block_M, D), T.float32)
        m = T.alloc_fragment((block_M,), T.float32)
        m_prev = T.alloc_fragment((block_M,), T.float32)
        alpha = T.alloc_fragment((block_M,), T.float32)
        row_sum = T.alloc_fragment((block_M,), T.float32)
        denom = T.alloc_fragment((block_M,), T.float32)
        T.copy(Q[bz, bx * block_M:(bx + 1) * block_M, by, :], Q_s)
        T.clear(acc)
        T.clear(denom)
        T.fill(m, -T.infinity(T.float32))
        steps = T.ceildiv((bx + 1) * block_M, block_N) if causal else T.ceildiv(S, block_N)
        for k in T.Pipelined(steps, num_stages=1):
            T.copy(K[bz, k * block_N:(k + 1) * block_N, by, :], K_s)
            if causal:
                for i, j in T.Parallel(block_M, block_N):
                    S_f[i, j] = T.if_then_else(bx * block_M + i >= k * block_N + j, 0, -T.infinity(T.float32))
            else:
                T.clear(S_f)
            T.gemm(Q_s, K_s, S_f, transpose_B=True, policy=T.GemmWarpPolicy.FullRow)
            T.copy(m, m_prev)
            T.reduce_max(S_f, m, dim=1, clear=False)
            for i in T.Parallel(block_M):
                alpha[i] = T.exp2(m_prev[i] * scale - m[i] * scale)
            for i, j in T.Parallel(block_M, block_N):
                S_f[i, j] = T.exp2(S_f[i, j] * scale - m[i] * scale)
            T.reduce_sum(S_f, row_sum, dim=1)
            for i in T.Parallel(block_M):
                denom[i] = denom[i] * alpha[i] + row_sum[i]
            for i, j in T.Parallel(block_M, D):
                acc[i, j] *= alpha[i]
            T.copy(S_f, P)
            T.copy(V[bz, k * block_N:(k + 1) * block_N, by, :], V_s)
            T.gemm(P, V_s, acc, policy=T.GemmWarpPolicy.FullRow)
        for i, j in T.Parallel(block_M, D):
            acc[i, j] /= denom[i]
        for i in T.Parallel(block_M):
            m[i] = (T.log2(denom[i]) + m[i] * scale) / 1.44269504
        T.copy(acc, O[bz, bx * block_M:(bx + 1) * block_M, by, :])
        T.copy(m, L[bz, by, bx * block_M])
    return O, L


@tiledsl.jit
def attention_bwd_dq(Q, K, V, dO, L, Delta, block_M=32, block_N=32, threads=128, dtype=T.float16):
    """dQ of softmax(Q K^T / sqrt(D)) V (non-causal), from the forward's log-sum-exp L and
    Delta = rowsum(dO * O): dS = P * (dO V^T - Delta), dQ = dS K / sqrt(D)."""
    B, S, H, D = T.const("B, S, H, D")
    Q: T.Tensor((B, S, H, D), dtype)
    K: T.Tensor((B, S, H, D), dtype)
    V: T.Tensor((B, S, H, D), dtype)
    dO: T.Tensor((B, S, H, D), dtype)
    L: T.Tensor((B, H, S), T.float32)
    Delta: T.Tensor((B, H, S), T.float32)
    dQ = T.empty((B, S, H, D), T.float32)
    scale = (1.0 / D) ** 0.5
    with T.Kernel(T.ceildiv(S, block_M), H, B, threads=threads) as (bx, by, bz):
        Q_s = T.alloc_shared((block_M, D), dtype)
        dO_s = T.alloc_shared((block_M, D), dtype)
        K_s = T.alloc_shared((block_N, D), dtype)
        V_s = T.alloc_shared((block_N, D), dtype)
        s = T.alloc_fragment((block_M, block_N), T.float32)
        dp = T.alloc_fragment((block_M, block_N), T.float32)
        ds = T.alloc_shared((block_M, block_N), dtype)
        lse = T.alloc_fragment((block_M,), T.float32)
        delta = T.alloc_fragment((block_M,), T.float32)
        dq = T.alloc_fragment((block_M, D), T.float32)
        T.copy(Q[bz, bx * block_M:(bx + 1) * block_M, by, :], Q_s)
        T.copy(dO[bz, bx * block_M:(bx + 1) * block_M, by, :], dO_s)
        T.copy(L[bz, by, bx * block_M], lse)
        T.copy(Delta[bz, by, bx * block_M], delta)
        T.clear(dq)
        for k in T.Pipelined(T.ceildiv(S, block_N), num_stages=1):
            T.copy(K[bz, k * block_N:(k + 1) * block_N, by, :], K_s)
            T.copy(V[bz, k * block_N:(k + 1) * block_N, by, :], V_s)
            T.gemm(Q_s, K_s, s, transpose_B=True, clear_accum=True)
            T.gemm(dO_s, V_s, dp, transpose_B=True, clear_accum=True)
            for i, j in T.Parallel(block_M, block_N):
                ds[i, j] = T.exp(s[i, j] * scale - lse[i]) * (dp[i, j] - delta[i]) * scale
            T.gemm(ds, K_s, dq)
        T.copy(dq, dQ[bz, bx * block_M:(bx + 1) * block_M, by, :])
    return dQ


@tiledsl.jit
def decode_split(Q, K, V, num_split=2, block_N=32, threads=128, dtype=T.float16):
    """Flash decoding for one query token per (batch, head): each of ``num_split`` blocks covers a slice of the
    KV sequence and writes its partial output and log-sum-exp; :func:`decode_combine` merges them. One query row
    is too thin for a tensor-core GEMM, so the dot products are element-wise products and row reductions."""
    B, H, S, D = T.const("B, H, S, D")
    Q: T.Tensor((B, H, D), dtype)
    K: T.Tensor((B, S, H, D), dtype)
    V: T.Tensor((B, S, H, D), dtype)
    O_part = T.empty((B, H, num_split, D), T.float32)
    L_part = T.empty((B, H, num_split), T.float32)
    per_split = S // num_split
    scale = (1.0 / D) ** 0.5
    with T.Kernel(num_split, H, B, threads=threads) as (sp, h, b):
        q = T.alloc_shared((D,), dtype)
        K_s = T.alloc_shared((block_N, D), dtype)
        V_s = T.alloc_shared((block_N, D), dtype)
        prod = T.alloc_fragment((block_N, D), T.float32)
        s = T.alloc_fragment((block_N,), T.float32)
        pv = T.alloc_fragment((D,), T.float32)
        acc = T.alloc_fragment((D,), T.float32)
        m = T.alloc_fragment((1,), T.float32)
        m_prev = T.alloc_fragment((1,), T.float32)
        l = T.alloc_fragment((1,), T.float32)
        rs = T.alloc_fragment((1,), T.float32)
        T.copy(Q[b, h, 0:D], q)
        T.clear(acc)
        T.clear(l)
        T.fill(m, -T.infinity(T.float32))
        for k in T.Pipelined(T.ceildiv(per_split, block_N), num_stages=1):
            start = sp * per_split + k * block_N
            T.copy(K[b, start:start + block_N, h, :], K_s)
            T.copy(V[b, start:start + block_N, h, :], V_s)
            for j, d in T.Parallel(block_N, D):
                prod[j, d] = T.cast(q[d], T.float32) * T.cast(K_s[j, d], T.float32)
            T.reduce_sum(prod, s, dim=1)
            T.copy(m, m_prev)
            for i in T.Parallel(1):
                m[i] = m_prev[i]
            T.reduce_max(s, m, dim=0, clear=False)
            for j in T.Parallel(block_N):
                s[j] = T.exp((s[j] - m[0]) * scale)
            T.reduce_sum(s, rs, dim=0)
            for i in T.Parallel(1):
                l[i] = l[i] * T.exp((m_prev[i] - m[i]) * scale) + rs[i]
            for j, d in T.Parallel(block_N, D):
                prod[j, d] = s[j] * T.cast(V_s[j, d], T.float32)
            T.reduce_sum(prod, pv, dim=0)
            for d in T.Parallel(D):
                acc[d] = acc[d] * T.exp((m_prev[0] - m[0]) * scale) + pv[d]
        for d in T.Parallel(D):
            acc[d] /= l[0]
        for i in T.Parallel(1):
            m[i] = T.log(l[i]) + m[i] * scale
        T.copy(acc, O_part[b, h, sp, 0:D])
        T.copy(m, L_part[b, h, sp:sp + 1])
    return O_part, L_part


@tiledsl.jit
def decode_combine(O_part, L_part, dtype=T.float16):
    """Merge the per-split outputs of :func:`decode_split` by their log-sum-exps."""
    B, H, NS, D = T.const("B, H, NS, D")
    O_part: T.Tensor((B, H, NS, D), T.float32)
    L_part: T.Tensor((B, H, NS), T.float32)
    O = T.empty((B, H, D), dtype)
    with T.Kernel(H, B, threads=128) as (h, b):
        lse_max = T.alloc_var(T.float32)
        total = T.alloc_var(T.float32)
        acc = T.alloc_fragment((D,), T.float32)
        lse_max = -T.infinity(T.float32)
        for s in T.serial(NS):
            lse_max = T.max(lse_max, L_part[b, h, s])
        total = 0.0
        for s in T.serial(NS):
            total = total + T.exp(L_part[b, h, s] - lse_max)
        T.clear(acc)
        for s in T.serial(NS):
            for d in T.Parallel(D):
                acc[d] += O_part[b, h, s, d] * T.exp(L_part[b, h, s] - lse_max) / total
        T.copy(acc, O[b, h, 0:D])
    return O


@tiledsl.jit
def scale_flat_view(A, block=64):
    """B = 2 * A, flattened: A is read through a one-dimensional view of its memory (T.Tensor(..., A.data))."""
    M, N = T.const("M, N")
    A: T.Tensor((M, N), T.float32)
    B = T.empty((M * N,), T.float32)
    with T.Kernel(T.ceildiv(M * N, block), threads=32) as bx:
        A_flat = T.Tensor((M * N,), T.float32, A.data)
        tile = T.alloc_shared((block,), T.float32)
        T.copy(A_flat[bx * block], tile)
        for i in T.Parallel(block):
            tile[i] = tile[i] * 2
        T.copy(tile, B[bx * block])
    return B


def flops_gemm(m, n, k) -> float:
    """Floating-point operations of an (m, k) x (k, n) GEMM."""
    return 2.0 * m * n * k


__all__ = ["gemm", "gemm_dynamic_m", "gemm_splitk", "gemm_dequant_int4", "rms_norm", "layer_norm_serial",
           "attention_fwd", "attention_bwd_dq", "decode_split", "decode_combine", "scale_flat_view", "int4_to_half", "tvm"]
