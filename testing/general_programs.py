"""The programs of ``benchmarks/bench_general.py``, written plainly in the tile language (as for any GPU: no hint
to the compiler), with their inputs, float32 torch references and torch peers.

Shared by the benchmark (timing on a GPU) and the tests (``testing/test_bench_general.py``: CPU runs at small
sizes, nvcc builds for sm_90a / sm_80, GPU checks). Each entry of :func:`cases` is a :class:`Case`: one or more
kernels and how to launch them, so multi-kernel programs (split-KV flash decoding, the attention backward) are
checked and timed as a whole, against the torch call that does the same work.
"""
from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from typing import Callable

import torch

import tiledsl.language as T

F16 = "float16"
LOG2E = 1.4426950408889634


def gemm(M, N, K, block_M=128, block_N=256, block_K=64, stages=4, threads=256, dtype=F16, residual=False,
         trans_A=False, trans_B=False, staged=False):
    """C = A @ B (A stored [K, M] when trans_A, B stored [N, K] when trans_B), optionally + R read in the
    epilogue; ``staged``: the result goes through a shared tile first (TileLang's examples' form)."""
    a_shape, b_shape = ((K, M) if trans_A else (M, K)), ((N, K) if trans_B else (K, N))
    a_tile, b_tile = ((block_K, block_M) if trans_A else (block_M, block_K)), \
        ((block_N, block_K) if trans_B else (block_K, block_N))

    @T.prim_func
    def kernel(A: T.Tensor(a_shape, dtype), B: T.Tensor(b_shape, dtype), R: T.Tensor((M, N), dtype),
               C: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared(a_tile, dtype)
            B_s = T.alloc_shared(b_tile, dtype)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                if trans_A:
                    T.copy(A[k * block_K, by * block_M], A_s)
                else:
                    T.copy(A[by * block_M, k * block_K], A_s)
                if trans_B:
                    T.copy(B[bx * block_N, k * block_K], B_s)
                else:
                    T.copy(B[k * block_K, bx * block_N], B_s)
                T.gemm(A_s, B_s, C_f, transpose_A=trans_A, transpose_B=trans_B)
            if residual:
                for i, j in T.Parallel(block_M, block_N):
                    C_f[i, j] = C_f[i, j] + R[by * block_M + i, bx * block_N + j]
            if staged:
                C_s = T.alloc_shared((block_M, block_N), dtype)
                T.copy(C_f, C_s)
                T.copy(C_s, C[by * block_M, bx * block_N])
            else:
                T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def batched_gemm(Bt, M, N, K, block_M=128, block_N=256, block_K=64, stages=4, threads=256, dtype=F16):
    """C[b] = A[b] @ B[b], the batch on grid z."""
    @T.prim_func
    def kernel(A: T.Tensor((Bt, M, K), dtype), B: T.Tensor((Bt, K, N), dtype), C: T.Tensor((Bt, M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), Bt, threads=threads) as (bx, by, bz):
            A_s = T.alloc_shared((block_M, block_K), dtype)
            B_s = T.alloc_shared((block_K, block_N), dtype)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[bz, by * block_M, k * block_K], A_s)
                T.copy(B[bz, k * block_K, bx * block_N], B_s)
                T.gemm(A_s, B_s, C_f)
            T.copy(C_f, C[bz, by * block_M, bx * block_N])
    return kernel


def grouped_gemm(G, total_M, max_rows, N, K, block_M=128, block_N=256, block_K=64, stages=4, threads=256,
                 dtype=F16):
    """C[rows of group g] = A[rows of group g] @ B[g]: group g owns rows offsets[g] .. offsets[g+1] of A and C
    (sizes known only at run time, at most ``max_rows`` each); grid z walks the groups."""
    @T.prim_func
    def kernel(A: T.Tensor((total_M, K), dtype), B: T.Tensor((G, K, N), dtype), offsets: T.Tensor((G + 1,), "int32"),
               C: T.Tensor((total_M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(max_rows, block_M), G, threads=threads) as (bx, by, bz):
            A_s = T.alloc_shared((block_M, block_K), dtype)
            B_s = T.alloc_shared((block_K, block_N), dtype)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            if offsets[bz] + by * block_M < offsets[bz + 1]:
                T.clear(C_f)
                for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                    T.copy(A[offsets[bz] + by * block_M, k * block_K], A_s)
                    T.copy(B[bz, k * block_K, bx * block_N], B_s)
                    T.gemm(A_s, B_s, C_f)
                for i, j in T.Parallel(block_M, block_N):
                    if offsets[bz] + by * block_M + i < offsets[bz + 1]:
                        C[offsets[bz] + by * block_M + i, bx * block_N + j] = C_f[i, j]
    return kernel


def swiglu(M, N, K, block_M=128, block_N=128, block_K=64, stages=4, threads=256, dtype=F16):
    """out = silu(A @ Wg) * (A @ Wu): two GEMMs sharing A's tile, the gate fused in the epilogue."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), dtype), Wg: T.Tensor((K, N), dtype), Wu: T.Tensor((K, N), dtype),
               O: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), dtype)
            G_s = T.alloc_shared((block_K, block_N), dtype)
            U_s = T.alloc_shared((block_K, block_N), dtype)
            g = T.alloc_fragment((block_M, block_N), "float32")
            u = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(g)
            T.clear(u)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[by * block_M, k * block_K], A_s)
                T.copy(Wg[k * block_K, bx * block_N], G_s)
                T.copy(Wu[k * block_K, bx * block_N], U_s)
                T.gemm(A_s, G_s, g)
                T.gemm(A_s, U_s, u)
            for i, j in T.Parallel(block_M, block_N):
                g[i, j] = g[i, j] / (1.0 + T.exp(-g[i, j])) * u[i, j]
            T.copy(g, O[by * block_M, bx * block_N])
    return kernel


def int8_weight_gemm(M, N, K, block_M=128, block_N=128, block_K=64, stages=4, threads=256, weight_nk=False,
                     dtype=F16):
    """C = (A @ dequant(W)) * scale[n]: A and C in ``dtype`` (fp16 or bf16), int8 W [K, N] (``weight_nk``: [N, K],
    nn.Linear's layout, C = A W^T) converted to ``dtype`` in shared memory per tile."""
    w_shape, w_tile = ((N, K), (block_N, block_K)) if weight_nk else ((K, N), (block_K, block_N))

    @T.prim_func
    def kernel(A: T.Tensor((M, K), dtype), W: T.Tensor(w_shape, "int8"), S: T.Tensor((N,), "float32"),
               C: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), dtype)
            W_s = T.alloc_shared(w_tile, "int8")
            B_s = T.alloc_shared(w_tile, dtype)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[by * block_M, k * block_K], A_s)
                if weight_nk:
                    T.copy(W[bx * block_N, k * block_K], W_s)
                else:
                    T.copy(W[k * block_K, bx * block_N], W_s)
                for i, j in T.Parallel(*w_tile):
                    B_s[i, j] = T.Cast(dtype, W_s[i, j])
                T.gemm(A_s, B_s, C_f, transpose_B=weight_nk)
            for i, j in T.Parallel(block_M, block_N):
                C_f[i, j] = C_f[i, j] * S[bx * block_N + j]
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def int8_group_scaled_gemm(M, N, K, group=128, block_M=128, block_N=128, block_K=64, stages=4, threads=256):
    """C = sum over k-groups of (A_g @ W_g) * S[g, n]: fp16 A, int8 W [K, N] with one float32 scale per ``group``
    rows of K and column (GPTQ-style), written as the block-scaled GEMMs do it: each k step's product into a
    cleared accumulator, then added to the result with its group's scales (``group`` a multiple of ``block_K``)."""
    assert group % block_K == 0 and K % group == 0

    @T.prim_func
    def kernel(A: T.Tensor((M, K), F16), W: T.Tensor((K, N), "int8"), S: T.Tensor((K // group, N), "float32"),
               C: T.Tensor((M, N), F16)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), F16)
            W_s = T.alloc_shared((block_K, block_N), "int8")
            B_s = T.alloc_shared((block_K, block_N), F16)
            C_k = T.alloc_fragment((block_M, block_N), "float32")
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[by * block_M, k * block_K], A_s)
                T.copy(W[k * block_K, bx * block_N], W_s)
                for i, j in T.Parallel(block_K, block_N):
                    B_s[i, j] = T.Cast(F16, W_s[i, j])
                T.gemm(A_s, B_s, C_k, clear_accum=True)
                for i, j in T.Parallel(block_M, block_N):
                    C_f[i, j] += C_k[i, j] * S[k * block_K // group, bx * block_N + j]
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def gemm_added_twice(M, N, K, form="elements"):
    """Out += A @ B from two blocks per 64 x 64 output tile (grid z = 2): the atomic adds of two blocks meet.
    ``form``: "elements" (one ``T.atomic_add`` per element in a T.Parallel nest), "transposed" (elements into
    Out^T: addresses strided across a thread's adjacent columns), "tile" (``T.atomic_add(Out[..], C)``), "branch"
    (the tile form under ``if bz < 2``)."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), F16), B: T.Tensor((K, N), F16), Out: T.Tensor((M, N), "float32"),
               OutT: T.Tensor((N, M), "float32")):
        with T.Kernel(T.ceildiv(N, 64), T.ceildiv(M, 64), 2, threads=128) as (bx, by, bz):
            A_s = T.alloc_shared((64, K), F16)
            B_s = T.alloc_shared((K, 64), F16)
            C = T.alloc_fragment((64, 64), "float32")
            T.copy(A[by * 64, 0], A_s)
            T.copy(B[0, bx * 64], B_s)
            T.clear(C)
            T.gemm(A_s, B_s, C)
            if form == "tile":
                T.atomic_add(Out[by * 64, bx * 64], C)
            elif form == "branch":
                if bz < 2:
                    T.atomic_add(Out[by * 64, bx * 64], C)
            else:
                for i, j in T.Parallel(64, 64):
                    if form == "transposed":
                        T.atomic_add(OutT[bx * 64 + j, by * 64 + i], C[i, j])
                    else:
                        T.atomic_add(Out[by * 64 + i, bx * 64 + j], C[i, j])
    return kernel


def layer_norm(M, N, block_M=1, threads=256, eps=1e-5):
    """y = (x - mean) / sqrt(var + eps) * w + b per row, fp16 in and out, fp32 statistics."""
    @T.prim_func
    def kernel(X: T.Tensor((M, N), F16), Wt: T.Tensor((N,), F16), Bs: T.Tensor((N,), F16),
               Y: T.Tensor((M, N), F16)):
        with T.Kernel(T.ceildiv(M, block_M), threads=threads) as bx:
            x = T.alloc_fragment((block_M, N), "float32")
            sq = T.alloc_fragment((block_M, N), "float32")
            s = T.alloc_fragment((block_M,), "float32")
            s2 = T.alloc_fragment((block_M,), "float32")
            T.copy(X[bx * block_M, 0], x)
            for i, j in T.Parallel(block_M, N):
                sq[i, j] = x[i, j] * x[i, j]
            T.reduce_sum(x, s, dim=1)
            T.reduce_sum(sq, s2, dim=1)
            for i, j in T.Parallel(block_M, N):
                x[i, j] = (x[i, j] - s[i] / N) * T.rsqrt(s2[i] / N - (s[i] / N) * (s[i] / N) + eps) \
                    * Wt[j] + Bs[j]
            T.copy(x, Y[bx * block_M, 0])
    return kernel


def flash_attention(B, H, S, D, causal, block_M=128, block_N=128, stages=2, threads=256):
    """examples/flash_attention.py's program (its factory's PrimFunc)."""
    from example_modules import load_example

    return load_example("flash_attention", "bench_general_fa").flash_attention.get_tir(B, H, S, D, causal, block_M=block_M, block_N=block_N, num_stages=stages,
                                       threads=threads)


# ---------------------------------------------------------------- flash decoding with split KV (GQA)
def flash_decode_split(B, H, H_kv, S, D, num_split, block_N=128, block_H=64, stages=2, threads=128, dtype=F16):
    """One query token per head; the KV sequence is cut into ``num_split`` slices, one block per (slice, KV head,
    batch). The ``H // H_kv`` query heads sharing a KV head are the rows of one ``block_H``-row tile (the rest of
    the rows are zero), so both products are tile GEMMs. Writes each slice's normalised output and its log-sum-exp
    (base 2) for :func:`flash_decode_combine`."""
    groups = H // H_kv
    if H % H_kv or groups > block_H:
        raise ValueError(f"flash_decode_split: H={H} must be a multiple of H_kv={H_kv}, at most block_H={block_H} "
                         f"query heads per KV head")
    per_split = -(-S // num_split)
    if (num_split - 1) * per_split >= S:
        raise ValueError(f"flash_decode_split: {num_split} slices of {per_split} keys leave the last slice of S={S} "
                         f"empty; use fewer slices")
    scale = D ** -0.5 * LOG2E  # softmax in base 2
    ragged = S % num_split != 0 or per_split % block_N != 0

    @T.prim_func
    def kernel(Q: T.Tensor((B, H, D), dtype), K: T.Tensor((B, S, H_kv, D), dtype),
               V: T.Tensor((B, S, H_kv, D), dtype), O_part: T.Tensor((B, H, num_split, D), "float32"),
               L_part: T.Tensor((B, H, num_split), "float32")):
        with T.Kernel(num_split, H_kv, B, threads=threads) as (sp, g, b):
            Q_s = T.alloc_shared((block_H, D), dtype)
            K_s = T.alloc_shared((block_N, D), dtype)
            V_s = T.alloc_shared((block_N, D), dtype)
            s = T.alloc_fragment((block_H, block_N), "float32")
            p = T.alloc_fragment((block_H, block_N), dtype)
            acc = T.alloc_fragment((block_H, D), "float32")
            m = T.alloc_fragment((block_H,), "float32")
            m_prev = T.alloc_fragment((block_H,), "float32")
            alpha = T.alloc_fragment((block_H,), "float32")
            row_sum = T.alloc_fragment((block_H,), "float32")
            denom = T.alloc_fragment((block_H,), "float32")
            for i, d in T.Parallel(block_H, D):
                Q_s[i, d] = T.if_then_else(i < groups, Q[b, g * groups + i, d], T.cast(0, dtype))
            T.clear(acc)
            T.clear(denom)
            T.fill(m, -T.infinity("float32"))
            for k in T.Pipelined(T.ceildiv(per_split, block_N), num_stages=stages):
                T.copy(K[b, sp * per_split + k * block_N:sp * per_split + (k + 1) * block_N, g, :], K_s)
                T.copy(V[b, sp * per_split + k * block_N:sp * per_split + (k + 1) * block_N, g, :], V_s)
                if ragged:  # keys past the slice or the sequence do not count
                    for i, j in T.Parallel(block_H, block_N):
                        s[i, j] = T.if_then_else((k * block_N + j < per_split)
                                                 & (sp * per_split + k * block_N + j < S), 0,
                                                 -T.infinity("float32"))
                else:
                    T.clear(s)
                T.gemm(Q_s, K_s, s, transpose_B=True)
                T.copy(m, m_prev)
                T.reduce_max(s, m, dim=1, clear=False)
                for i in T.Parallel(block_H):
                    alpha[i] = T.exp2(m_prev[i] * scale - m[i] * scale)
                for i, j in T.Parallel(block_H, block_N):
                    s[i, j] = T.exp2(s[i, j] * scale - m[i] * scale)
                T.reduce_sum(s, row_sum, dim=1)
                for i in T.Parallel(block_H):
                    denom[i] = denom[i] * alpha[i] + row_sum[i]
                T.copy(s, p)
                for i, d in T.Parallel(block_H, D):
                    acc[i, d] *= alpha[i]
                T.gemm(p, V_s, acc)
            for i, d in T.Parallel(block_H, D):
                if i < groups:
                    O_part[b, g * groups + i, sp, d] = acc[i, d] / denom[i]
            for i in T.Parallel(block_H):
                if i < groups:
                    L_part[b, g * groups + i, sp] = T.log2(denom[i]) + m[i] * scale
    return kernel


def flash_decode_combine(B, H, num_split, D, threads=128, dtype=F16):
    """O[b, h] = sum over slices of 2^(lse_s - lse) O_s, lse = log2(sum_s 2^lse_s): the slices of
    :func:`flash_decode_split` merged by their log-sum-exps. One block per (head, batch)."""
    @T.prim_func
    def kernel(O_part: T.Tensor((B, H, num_split, D), "float32"), L_part: T.Tensor((B, H, num_split), "float32"),
               O: T.Tensor((B, H, D), dtype)):
        with T.Kernel(H, B, threads=threads) as (h, b):
            lse_max = T.alloc_var("float32")
            total = T.alloc_var("float32")
            acc = T.alloc_fragment((D,), "float32")
            lse_max = -T.infinity("float32")
            for sp in T.serial(num_split):
                lse_max = T.max(lse_max, L_part[b, h, sp])
            total = 0.0
            for sp in T.serial(num_split):
                total = total + T.exp2(L_part[b, h, sp] - lse_max)
            T.clear(acc)
            for sp in T.serial(num_split):
                for d in T.Parallel(D):
                    acc[d] += O_part[b, h, sp, d] * (T.exp2(L_part[b, h, sp] - lse_max) / total)
            T.copy(acc, O[b, h, 0])
    return kernel


# ---------------------------------------------------------------- attention backward (FlashAttention-2 style)
def attention_bwd_preprocess(B, S, H, D, block=64, threads=128, dtype=F16):
    """Delta[b, h, s] = sum_d dO * O (per query row), and the float32 dQ accumulator cleared for the atomics of
    :func:`attention_bwd`."""
    @T.prim_func
    def kernel(O: T.Tensor((B, S, H, D), dtype), dO: T.Tensor((B, S, H, D), dtype),
               Delta: T.Tensor((B, H, S), "float32"), dQ_acc: T.Tensor((B, S, H, D), "float32")):
        with T.Kernel(T.ceildiv(S, block), H, B, threads=threads) as (bx, h, b):
            o = T.alloc_fragment((block, D), "float32")
            do = T.alloc_fragment((block, D), "float32")
            delta = T.alloc_fragment((block,), "float32")
            T.copy(O[b, bx * block:(bx + 1) * block, h, :], o)
            T.copy(dO[b, bx * block:(bx + 1) * block, h, :], do)
            for i, d in T.Parallel(block, D):
                o[i, d] = o[i, d] * do[i, d]
            T.reduce_sum(o, delta, dim=1)
            T.copy(delta, Delta[b, h, bx * block])
            for i, d in T.Parallel(block, D):
                dQ_acc[b, bx * block + i, h, d] = 0.0
    return kernel


def attention_bwd(B, S, H, D, causal, block_M=64, block_N=128, stages=2, threads=256, dtype=F16):
    """dK, dV of one block of ``block_N`` keys, and its share of dQ (atomics into float32), walking the query
    blocks: P^T = 2^(K Q^T scale - lse), dV += P^T dO, dP^T = V dO^T, dS^T = P^T (dP^T - Delta) / sqrt(D),
    dK += dS^T Q, dQ += dS K. ``L`` is the forward's log-sum-exp (natural log) per query row."""
    sm_scale = D ** -0.5
    scale = sm_scale * LOG2E

    def first(bx):
        """The first query block that sees any key of key block ``bx`` (causal: the earlier ones are skipped).
        A Python helper, not ``first = ...`` in the kernel: a let-bound value in the index of a pipelined copy is
        not supported by the CUDA pipeline yet."""
        return bx * block_N // block_M if causal else 0

    @T.prim_func
    def kernel(Q: T.Tensor((B, S, H, D), dtype), K: T.Tensor((B, S, H, D), dtype), V: T.Tensor((B, S, H, D), dtype),
               dO: T.Tensor((B, S, H, D), dtype), L: T.Tensor((B, H, S), "float32"),
               Delta: T.Tensor((B, H, S), "float32"), dQ_acc: T.Tensor((B, S, H, D), "float32"),
               dK: T.Tensor((B, S, H, D), dtype), dV: T.Tensor((B, S, H, D), dtype)):
        with T.Kernel(T.ceildiv(S, block_N), H, B, threads=threads) as (bx, h, b):
            K_s = T.alloc_shared((block_N, D), dtype)
            V_s = T.alloc_shared((block_N, D), dtype)
            Q_s = T.alloc_shared((block_M, D), dtype)
            dO_s = T.alloc_shared((block_M, D), dtype)
            lse = T.alloc_shared((block_M,), "float32")
            delta = T.alloc_shared((block_M,), "float32")
            dsT_s = T.alloc_shared((block_N, block_M), dtype)
            pT = T.alloc_fragment((block_N, block_M), "float32")
            dpT = T.alloc_fragment((block_N, block_M), "float32")
            pT_cast = T.alloc_fragment((block_N, block_M), dtype)
            dsT_cast = T.alloc_fragment((block_N, block_M), dtype)
            dk = T.alloc_fragment((block_N, D), "float32")
            dv = T.alloc_fragment((block_N, D), "float32")
            dq = T.alloc_fragment((block_M, D), "float32")
            T.copy(K[b, bx * block_N:(bx + 1) * block_N, h, :], K_s)
            T.copy(V[b, bx * block_N:(bx + 1) * block_N, h, :], V_s)
            T.clear(dk)
            T.clear(dv)
            for it in T.Pipelined(T.ceildiv(S, block_M) - first(bx), num_stages=stages):
                T.copy(Q[b, (first(bx) + it) * block_M:(first(bx) + it + 1) * block_M, h, :], Q_s)
                T.copy(dO[b, (first(bx) + it) * block_M:(first(bx) + it + 1) * block_M, h, :], dO_s)
                T.copy(L[b, h, (first(bx) + it) * block_M], lse)
                T.copy(Delta[b, h, (first(bx) + it) * block_M], delta)
                T.clear(pT)
                T.gemm(K_s, Q_s, pT, transpose_B=True)
                if causal:
                    for j, i in T.Parallel(block_N, block_M):
                        pT[j, i] = T.if_then_else((first(bx) + it) * block_M + i >= bx * block_N + j,
                                                  T.exp2(pT[j, i] * scale - lse[i] * LOG2E), 0)
                else:
                    for j, i in T.Parallel(block_N, block_M):
                        pT[j, i] = T.exp2(pT[j, i] * scale - lse[i] * LOG2E)
                T.clear(dpT)
                T.gemm(V_s, dO_s, dpT, transpose_B=True)
                T.copy(pT, pT_cast)
                T.gemm(pT_cast, dO_s, dv)
                for j, i in T.Parallel(block_N, block_M):
                    dpT[j, i] = pT[j, i] * (dpT[j, i] - delta[i]) * sm_scale  # dS^T
                T.copy(dpT, dsT_cast)
                T.gemm(dsT_cast, Q_s, dk)
                T.copy(dsT_cast, dsT_s)
                T.clear(dq)
                T.gemm(dsT_s, K_s, dq, transpose_A=True)
                for i, d in T.Parallel(block_M, D):
                    T.atomic_add(dQ_acc[b, (first(bx) + it) * block_M + i, h, d], dq[i, d])
            T.copy(dv, dV[b, bx * block_N:(bx + 1) * block_N, h, :])
            T.copy(dk, dK[b, bx * block_N:(bx + 1) * block_N, h, :])
    return kernel


def attention_bwd_dq(B, S, H, D, block=64, threads=128, dtype=F16):
    """dQ = the float32 accumulator of :func:`attention_bwd`, in ``dtype``."""
    @T.prim_func
    def kernel(dQ_acc: T.Tensor((B, S, H, D), "float32"), dQ: T.Tensor((B, S, H, D), dtype)):
        with T.Kernel(T.ceildiv(S, block), H, B, threads=threads) as (bx, h, b):
            acc = T.alloc_fragment((block, D), "float32")
            T.copy(dQ_acc[b, bx * block:(bx + 1) * block, h, :], acc)
            T.copy(acc, dQ[b, bx * block:(bx + 1) * block, h, :])
    return kernel


def check_flash_attention_on_gpu(B, H, S, D, causal, **program_kwargs):
    """Build :func:`flash_attention` for the GPU (with the environment's switches), check it against torch's SDPA
    in float32 on fresh inputs with the output poisoned with NaN, and return the kernel."""
    import tiledsl

    kernel = tiledsl.compile(flash_attention(B, H, S, D, causal, **program_kwargs), out_idx=[], target="cuda")
    q, k, v = (torch.randn(B, S, H, D, device="cuda").half() for _ in range(3))
    out = torch.full_like(q, float("nan"))
    kernel(q, k, v, out)
    torch.cuda.synchronize()
    want = torch.nn.functional.scaled_dot_product_attention(
        *(x.float().transpose(1, 2) for x in (q, k, v)), is_causal=causal).transpose(1, 2)
    assert not torch.isnan(out).any()
    torch.testing.assert_close(out.float(), want, rtol=2e-2, atol=2e-2)
    return kernel


def gemm_instruction(source: str) -> str:
    """Which tensor-core instruction a kernel's CUDA source uses: wgmma, mma.sync or none."""
    body = source.split("__global__", 1)[-1]
    if "wgmma_" in body:
        return "wgmma"
    if "mma_sync" in body or "mma_int_sync" in body:  # (TVM names the integer form's helper mma_int_sync_...)
        return "mma.sync"
    return "none"


def copy_instruction(source: str) -> str:
    """How a kernel's CUDA source loads global memory into shared memory: tma, cp.async or plain."""
    body = source.split("__global__", 1)[-1]
    if "cp_async_bulk_tensor" in body:
        return "tma"
    if "cp_async" in body:
        return "cp.async"
    return "plain"


# ---------------------------------------------------------------- float32 references
def decode_reference(q, k, v):
    """softmax(q k^T / sqrt(D)) v in float32 for one query per head: q [B, H, D], k and v [B, S, H_kv, D] (each KV
    head serves H // H_kv consecutive query heads); returns [B, H, D]."""
    groups = q.shape[1] // k.shape[2]
    k, v = (x.float().repeat_interleave(groups, dim=2).transpose(1, 2) for x in (k, v))  # [B, H, S, D]
    scores = (k @ q.float()[..., None])[..., 0] / math.sqrt(q.shape[-1])  # [B, H, S]
    return (torch.softmax(scores, -1)[:, :, None] @ v)[:, :, 0]


def attention_fp32(q, k, v, do, causal):
    """The forward (O, log-sum-exp per query row) and the backward (dQ, dK, dV) of softmax(q k^T / sqrt(D)) v in
    float32, [B, S, H, D] tensors (L is [B, H, S], natural log), one batch element at a time (bounded memory)."""
    outs = [[] for _ in range(5)]
    for b in range(q.shape[0]):
        qb, kb, vb, dob = (x[b].float().transpose(0, 1) for x in (q, k, v, do))  # [H, S, D]
        s = qb @ kb.transpose(-1, -2) / math.sqrt(q.shape[-1])
        if causal:
            n = s.shape[-1]
            s = s.masked_fill(torch.ones(n, n, dtype=torch.bool, device=s.device).triu(1), float("-inf"))
        lse = torch.logsumexp(s, -1)
        p = torch.exp(s - lse[..., None])
        del s
        o = p @ vb
        dv = p.transpose(-1, -2) @ dob
        dp = dob @ vb.transpose(-1, -2)
        ds = p * (dp - (dob * o).sum(-1, keepdim=True)) / math.sqrt(q.shape[-1])
        del p, dp
        dq, dk = ds @ kb, ds.transpose(-1, -2) @ qb
        for acc, x in zip(outs, (o, lse, dq, dk, dv)):
            acc.append(x if x.dim() == 2 else x.transpose(0, 1))
    o, lse, dq, dk, dv = (torch.stack(x) for x in outs)
    return o, lse, dq, dk, dv


# ---------------------------------------------------------------- the table
@dataclass
class Case:
    """One program of the benchmark: its kernels (name -> PrimFunc), how to make inputs on a device, how to launch
    the kernels on them (:meth:`bind`), the float32 reference of the outputs, the torch peer timed against it, the
    relative error allowed, and the kernels whose gemms must run on tensor cores (wgmma on sm_90a)."""
    kernels: dict
    make: Callable  # device -> list of input tensors
    ref: Callable  # *inputs -> tuple of float32 outputs
    peer: Callable  # *inputs -> the torch result (timed)
    tol: float
    gemm_kernels: tuple = ()
    launch: Callable | None = None  # (compiled kernels, inputs) -> a callable running them, returning the outputs

    def bind(self, compiled: dict, inputs: list) -> Callable:
        """A callable that runs our kernels on ``inputs`` (outputs and workspaces allocated once, NaN-poisoned)
        and returns the outputs as a tuple."""
        if self.launch is not None:
            return self.launch(compiled, inputs)
        (name, kernel), = compiled.items()
        last = self.kernels[name].params[-1].ty  # the output: the kernel's last parameter
        out = _poisoned([int(e) for e in last.shape], getattr(torch, str(last.dtype)), inputs[0].device)

        def go():
            kernel(*inputs, out)
            return (out,)
        return go


def relative_error(got, want) -> float:
    """||got - want|| / ||want||, in float32."""
    want = want.float()
    return ((got.float() - want).norm() / want.norm()).item()


def check_case_on_gpu(name: str, small_cases: dict | None = None) -> dict:
    """Build the small case ``name`` (of :func:`cases`, or of ``small_cases``) for the GPU (with the environment's
    switches), run it and its torch peer on fresh inputs and check both against the float32 reference; returns the
    compiled kernels by name."""
    import tiledsl

    case = (small_cases if small_cases is not None else cases(small=True))[name]
    compiled = {k: tiledsl.compile(f, out_idx=[], target="cuda") for k, f in case.kernels.items()}
    inputs = case.make("cuda")
    outs = case.bind(compiled, inputs)()
    peer = case.peer(*inputs)
    torch.cuda.synchronize()
    assert_matches_reference(case, outs, inputs, peer)
    return compiled


def assert_matches_reference(case: Case, outs, inputs, peer=None, names=None):
    """Each of our outputs ``outs`` holds no NaN (the poison of an element never written) and is within the case's
    relative error of its float32 reference, and so is the matching result of ``peer`` (the torch call's, when
    given); ``names`` label the outputs in the messages."""
    peer = () if peer is None else (tuple(peer) if isinstance(peer, (tuple, list)) else (peer,))
    for i, (out, want) in enumerate(zip(outs, case.ref(*inputs))):
        name = names[i] if names else f"output {i}"
        assert not torch.isnan(out).any(), name
        for got in (out,) + peer[i:i + 1]:
            err = relative_error(got, want)
            assert err < case.tol, f"{name}: relative error {err:.3g}"


def check(case: Case, go, inputs) -> tuple[float, bool]:
    """Run our kernels once and compare every output with the float32 reference: (worst relative error, ok)."""
    outs = go()
    torch.cuda.synchronize()
    wants = case.ref(*inputs)
    worst, ok = 0.0, True
    for out, want in zip(outs, wants):
        err = relative_error(out, want)
        worst = max(worst, err)
        ok = ok and bool(not torch.isnan(out).any()) and err < case.tol
    return worst, ok


def check_on_gpu(case: Case) -> tuple[float, bool]:
    """Build ``case``'s kernels for the GPU with the current switches, run them once on fresh inputs (outputs
    poisoned) and compare with the float32 reference: (worst relative error, ok)."""
    import tiledsl
    compiled = {k: tiledsl.compile(f, out_idx=[], target="cuda") for k, f in case.kernels.items()}
    inputs = case.make("cuda")
    return check(case, case.bind(compiled, inputs), inputs)


@contextlib.contextmanager
def switched_env(switches: dict):
    """The environment variables ``switches`` set inside the block, restored after it."""
    saved = {k: os.environ.get(k) for k in switches}
    os.environ.update(switches)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _poisoned(shape, dtype, device):
    return torch.full(shape, float("nan"), dtype=dtype, device=device)


def _randn(device, *shape, dtype=torch.float16):
    return torch.randn(*shape, device=device).to(dtype)


def single_case(func, make, ref, peer, tol, gemm=True):
    """A :class:`Case` of one kernel whose last parameter is its output (``gemm``: its gemms must use tensor
    cores)."""
    return Case({"main": func}, make, lambda *x: (ref(*x).float(),), peer, tol, ("main",) if gemm else ())


def decode_case(B, H, H_kv, S, D, num_split, block_N=128, stages=2):
    """Split-KV flash decoding (one query per head, grouped-query), against SDPA on the same tensors."""
    def launch(ks, inputs):
        q = inputs[0]
        o_part = _poisoned((B, H, num_split, D), torch.float32, q.device)
        l_part = _poisoned((B, H, num_split), torch.float32, q.device)
        o = _poisoned((B, H, D), q.dtype, q.device)

        def go():
            ks["split"](*inputs, o_part, l_part)
            ks["combine"](o_part, l_part, o)
            return (o,)
        return go

    def peer(q, k, v):
        return torch.nn.functional.scaled_dot_product_attention(
            q[:, :, None], k.transpose(1, 2), v.transpose(1, 2), enable_gqa=H != H_kv)[:, :, 0]

    return Case({"split": flash_decode_split(B, H, H_kv, S, D, num_split, block_N=block_N, stages=stages),
                 "combine": flash_decode_combine(B, H, num_split, D)},
                lambda dev: [_randn(dev, B, H, D), _randn(dev, B, S, H_kv, D), _randn(dev, B, S, H_kv, D)],
                lambda q, k, v: (decode_reference(q, k, v),), peer, 2e-2, ("split",), launch)


def attention_bwd_case(B, S, H, D, causal, block_M=64, block_N=128, stages=2, threads=256):
    """The attention backward (preprocess, main kernel over key blocks with dQ atomics, dQ conversion) from the
    forward's O and log-sum-exp, against torch SDPA's backward (``torch.autograd.grad`` of a saved forward)."""
    def make(dev):
        q, k, v, do = (_randn(dev, B, S, H, D) for _ in range(4))
        o, lse = attention_fp32(q, k, v, do, causal)[:2]
        return [q, k, v, o.half().contiguous(), do, lse.contiguous()]

    def launch(ks, inputs):
        q, k, v, o, do, lse = inputs
        delta = _poisoned((B, H, S), torch.float32, q.device)
        dq_acc = _poisoned((B, S, H, D), torch.float32, q.device)
        dq, dk, dv = (_poisoned((B, S, H, D), q.dtype, q.device) for _ in range(3))

        def go():
            ks["preprocess"](o, do, delta, dq_acc)
            ks["main"](q, k, v, do, lse, delta, dq_acc, dk, dv)
            ks["dq"](dq_acc, dq)
            return dq, dk, dv
        return go

    saved = {}

    def peer(q, k, v, o, do, lse):
        """dQ, dK, dV by torch: SDPA's forward once (not timed), then its backward."""
        key = (q.data_ptr(), k.data_ptr(), v.data_ptr(), do.data_ptr())
        if key not in saved:
            leaves = [x.detach().requires_grad_() for x in (q, k, v)]
            out = torch.nn.functional.scaled_dot_product_attention(*(x.transpose(1, 2) for x in leaves),
                                                                   is_causal=causal)
            saved[key] = (out, leaves, do.transpose(1, 2))
        out, leaves, grad = saved[key]
        return torch.autograd.grad(out, leaves, grad, retain_graph=True)

    return Case({"preprocess": attention_bwd_preprocess(B, S, H, D),
                 "main": attention_bwd(B, S, H, D, causal, block_M=block_M, block_N=block_N, stages=stages,
                                       threads=threads),
                 "dq": attention_bwd_dq(B, S, H, D)},
                make, lambda q, k, v, o, do, lse: attention_fp32(q, k, v, do, causal)[2:], peer, 2e-2, ("main",),
                launch)


def cases(small=False) -> dict:
    """name -> :class:`Case`: the benchmark's programs at its sizes (``small``: sizes for GPU tests and CI builds)."""
    n = 1024 if small else 4096
    bn, bm = (512 if small else 2048), 8

    def three(dev):
        return [_randn(dev, n, n) for _ in range(3)]
    out = {
        "gemm": single_case(gemm(n, n, n), three, lambda a, b, r: a.float() @ b.float(), lambda a, b, r: a @ b, 2e-2),
        "gemm_residual": single_case(gemm(n, n, n, residual=True), three,
                                 lambda a, b, r: a.float() @ b.float() + r.float(),
                                 lambda a, b, r: torch.addmm(r, a, b), 2e-2),
        # TileLang's GEMM example form (result staged through shared memory, 3 stages): by default a TMA ring
        # without a producer warpgroup; with TILEDSL_TMA_STORE=1 warp-specialized with a TMA-store epilogue
        "gemm_staged": single_case(gemm(n, n, n, stages=3, staged=True), three, lambda a, b, r: a.float() @ b.float(),
                               lambda a, b, r: a @ b, 2e-2),
        "gemm_A_T": single_case(gemm(n, n, n, trans_A=True), three, lambda a, b, r: a.float().T @ b.float(),
                            lambda a, b, r: a.T @ b, 2e-2),
        "gemm_B_T": single_case(gemm(n, n, n, trans_B=True), three, lambda a, b, r: a.float() @ b.float().T,
                            lambda a, b, r: a @ b.T, 2e-2),
        "batched": single_case(batched_gemm(bm, bn, bn, bn), lambda dev: [_randn(dev, bm, bn, bn) for _ in range(2)],
                           lambda a, b: a.float() @ b.float(), torch.bmm, 2e-2),
        "swiglu": single_case(swiglu(n, n, n), lambda dev: [_randn(dev, n, n), _randn(dev, n, n) / 8,
                                                         _randn(dev, n, n) / 8],
                          lambda a, g, u: torch.nn.functional.silu(a.float() @ g.float()) * (a.float() @ u.float()),
                          lambda a, g, u: torch.nn.functional.silu(a @ g) * (a @ u), 3e-2),
        # the int8-weight configs are the winners of our autotuner over bench_configs.py's space (H100, 2026-12-05:
        # 0.51 -> 0.65x at M = 4096 with block_M 256; 0.73 -> 0.95x at M = 16 with 64 x 32 x 128 tiles, then
        # 0.95 -> 1.05x with 32 x 32 x 256 in a wider sweep; 2026-12-06, the weight converted in registers
        # (TILEDSL_REGISTER_DEQUANT) and split-K on by default: 1.10 -> 1.41x with 16 x 128 x 64 tiles, 8 stages)
        "int8_weight_m4096": single_case(int8_weight_gemm(n, n, n, block_M=256),
                                     lambda dev: _int8_inputs(dev, n, n, n), _int8_ref, _int8_peer(), 3e-2),
        "int8_weight_m16": single_case(int8_weight_gemm(16, n, n, block_M=16, block_N=128, block_K=64, stages=8),
                                   lambda dev: _int8_inputs(dev, 16, n, n), _int8_ref, _int8_peer(), 3e-2),
        # 128 threads a row: 32 elements each (bench_norm_configs.py, H200 2026-12-06: 97 % of the copy rate timed
        # in the same run; 256 threads 91 %, 512 threads 70 %)
        "layernorm": single_case(layer_norm(4096 if small else 16384, 4096, threads=128),
                             lambda dev: _ln_inputs(dev, 4096 if small else 16384), _ln_ref, _ln_ref_half, 2e-2,
                             gemm=False),
    }
    sizes = [(256 if small else 1024) * (g % 3 + 1) + 64 * g for g in range(8)]
    gn = 512 if small else 4096
    out["grouped"] = single_case(grouped_gemm(8, sum(sizes), max(sizes), gn, gn),
                             lambda dev: _grouped_inputs(dev, sizes, gn), _grouped_ref, _grouped_peer(), 2e-2)
    if not small:
        out["gemm_8192"] = single_case(gemm(8192, 8192, 8192), lambda dev: [_randn(dev, 8192, 8192) for _ in range(3)],
                                   lambda a, b, r: a.float() @ b.float(), lambda a, b, r: a @ b, 2e-2)
    fa = (2, 8, 1024, 128) if small else (8, 32, 4096, 128)
    for causal in (False, True):
        out["flash_attention" + ("_causal" if causal else "")] = single_case(
            flash_attention(*fa, causal), lambda dev: [_randn(dev, fa[0], fa[2], fa[1], fa[3]) for _ in range(3)],
            _sdpa(causal), _sdpa(causal), 2e-2)
    if not small:  # TileLang's examples write attention with num_stages=1 (one iteration ahead, two buffers)
        for tag, cfg in (("stages1", {}), ("tl_config", dict(block_M=64, block_N=64, threads=128))):
            out["flash_attention_" + tag] = single_case(
                flash_attention(*fa, False, stages=1, **cfg),
                lambda dev: [_randn(dev, fa[0], fa[2], fa[1], fa[3]) for _ in range(3)], _sdpa(False), _sdpa(False),
                2e-2)
    # flash decoding: B=64, 32 query heads on 8 KV heads, 8192 keys, one query token per head
    out["flash_decode"] = decode_case(*((4, 32, 8, 1024, 128, 4) if small else (64, 32, 8, 8192, 128, 4)))
    bwd = (1, 512, 4, 128) if small else (8, 4096, 32, 128)
    for causal in (False, True):
        out["attention_bwd" + ("_causal" if causal else "")] = attention_bwd_case(*bwd, causal)
    return out


def _sdpa(causal):
    """torch's SDPA on [B, S, H, D] tensors (the kernel's layout), result in the same layout."""
    def run(q, k, v):
        o = torch.nn.functional.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                                             v.transpose(1, 2), is_causal=causal)
        return o.transpose(1, 2)
    return run


def _int8_inputs(dev, M, N, K):
    return [_randn(dev, M, K), torch.randint(-127, 128, (K, N), device=dev, dtype=torch.int8),
            torch.rand(N, device=dev) / 64]


def _grouped_inputs(dev, sizes, n):
    offsets = torch.tensor([0] + list(torch.tensor(sizes).cumsum(0)), device=dev, dtype=torch.int32)
    return [_randn(dev, sum(sizes), n), _randn(dev, len(sizes), n, n), offsets]


def _grouped_ref(a, b, offsets):
    o = offsets.tolist()
    return torch.cat([a[o[g]:o[g + 1]].float() @ b[g].float() for g in range(b.shape[0])])


def _grouped_peer():
    """torch: one cuBLAS GEMM per group (the offsets read on the host once, outside the timing)."""
    cache = {}

    def run(a, b, offsets):
        o = cache.setdefault(offsets.data_ptr(), offsets.tolist())
        return torch.cat([a[o[g]:o[g + 1]] @ b[g] for g in range(b.shape[0])])
    return run


def dequantized_peer(dequant):
    """A peer ``a @ dequant(w, s)`` for a quantized-weight program: cuBLAS on the weight dequantized once per
    (weight, scales), outside the timing; ``dequant`` gives the [K, N] operand (a transposed view is fine)."""
    cache = {}

    def run(a, w, s):
        key = (w.data_ptr(), s.data_ptr())
        if key not in cache:
            cache[key] = dequant(w, s)
        return a @ cache[key]
    return run


def _int8_peer():
    """cuBLAS fp16 on the weights dequantized once, outside the timing (``a @ (w * s)``)."""
    return dequantized_peer(lambda w, s: (w.float() * s).half())


def _int8_ref(a, w, s):
    return (a.float() @ w.float()) * s


def _ln_inputs(dev, M, N=4096):
    return [_randn(dev, M, N), _randn(dev, N), _randn(dev, N)]


def _ln_ref(x, w, b):
    return torch.nn.functional.layer_norm(x.float(), (x.shape[1],), w.float(), b.float(), 1e-5)


def _ln_ref_half(x, w, b):
    return torch.nn.functional.layer_norm(x, (x.shape[1],), w, b, 1e-5)
