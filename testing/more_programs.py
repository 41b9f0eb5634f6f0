"""Programs outside ``bench_general``'s table, written as a user would bring them (plain tile language, no hint to
the compiler): a bfloat16 GEMM with a bias and tanh-GELU epilogue, nn.Linear's layout at a Llama MLP shape,
grouped-query attention in bfloat16, RMSNorm in bfloat16, a row softmax, an fp8 GEMM (plain, and with its partial
sums promoted to float32 per K tile). They check that the general passes are general: each should reach the same
instructions (wgmma, TMA) and speed as the table's programs. Outside :func:`cases` (its loop's gathered tile keeps
it off TMA): TileLang's convolution example as written (:func:`conv_gather`, :func:`conv_case`;
``benchmarks/probe_conv.py``).

Each entry of :func:`cases` is a ``general_programs.Case``, so ``benchmarks/bench_more.py`` times them with
bench_general's harness and ``testing/test_more_programs.py`` checks them (CPU runs, sm_90a builds, GPU runs).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

import tiledsl.language as T
from general_programs import _randn, single_case

BF16 = "bfloat16"
F16 = "float16"
GELU_C = 0.7978845608028654  # sqrt(2 / pi)


def flash_attention_gqa(B, H, H_kv, S, D, causal, dtype=F16, block_M=128, block_N=128, stages=2, threads=256):
    """examples/flash_attention.py's program with ``H // H_kv`` query heads per K/V head."""
    from example_modules import load_example

    return load_example("flash_attention", "more_programs_fa").flash_attention.get_tir(
        B, H, S, D, causal, block_M=block_M, block_N=block_N, num_stages=stages, threads=threads, groups=H // H_kv,
        dtype=dtype)


def gemm_bias_gelu(M, N, K, block_M=128, block_N=256, block_K=64, stages=4, threads=256, dtype=BF16):
    """C = gelu_tanh(A @ B + bias), the epilogue fused."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), dtype), B: T.Tensor((K, N), dtype), bias: T.Tensor((N,), dtype),
               C: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), dtype)
            B_s = T.alloc_shared((block_K, block_N), dtype)
            acc = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(acc)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[by * block_M, k * block_K], A_s)
                T.copy(B[k * block_K, bx * block_N], B_s)
                T.gemm(A_s, B_s, acc)
            for i, j in T.Parallel(block_M, block_N):
                acc[i, j] = acc[i, j] + bias[bx * block_N + j]
            for i, j in T.Parallel(block_M, block_N):
                acc[i, j] = 0.5 * acc[i, j] * (1.0 + T.tanh(GELU_C * (acc[i, j] + 0.044715 * acc[i, j] * acc[i, j]
                                                                       * acc[i, j])))
            T.copy(acc, C[by * block_M, bx * block_N])
    return kernel


def linear(M, N, K, block_M=128, block_N=256, block_K=64, stages=4, threads=256, dtype=F16, out_dtype=None):
    """y = x @ W^T with W stored [N, K] (nn.Linear's weight; fp8 GEMMs' B layout too), float32 sums, the result in
    ``out_dtype`` (default: ``dtype``)."""
    out_dtype = out_dtype or dtype

    @T.prim_func
    def kernel(X: T.Tensor((M, K), dtype), W: T.Tensor((N, K), dtype), Y: T.Tensor((M, N), out_dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            X_s = T.alloc_shared((block_M, block_K), dtype)
            W_s = T.alloc_shared((block_N, block_K), dtype)
            acc = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(acc)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(X[by * block_M, k * block_K], X_s)
                T.copy(W[bx * block_N, k * block_K], W_s)
                T.gemm(X_s, W_s, acc, transpose_B=True)
            T.copy(acc, Y[by * block_M, bx * block_N])
    return kernel


def rms_norm(M, N, dtype=BF16):
    """examples/rmsnorm.py's program, one row per block of 256 threads."""
    from example_modules import load_example

    return load_example("rmsnorm", "more_programs_rmsnorm").rms_norm.get_tir(M, N, block_M=1, threads=256,
                                                                             dtype=dtype)


def softmax(M, N, block_M=1, threads=256):
    """examples/softmax.py's program (float16, float32 arithmetic)."""
    from example_modules import load_example

    return load_example("softmax", "more_programs_softmax").softmax.get_tir(M, N, block_M=block_M, threads=threads)


def gemm_fp8(M, N, K):
    """C = A @ B^T with A [M, K] and B [N, K] in float8 e4m3, the result in bfloat16."""
    return linear(M, N, K, block_K=128, dtype="float8_e4m3fn", out_dtype=BF16)


def gemm_fp8_promoted(M, N, K, block_M=128, block_N=128, block_K=128, stages=4, threads=256):
    """C = A @ B^T in float8 e4m3 (B [N, K]), each K tile's product made in a fresh accumulator and added into
    float32 registers, the result in bfloat16: DeepGEMM's promotion, written in the program (Hopper's fp8 wgmma
    keeps about 14 bits of a running sum, so a plain loop over K = 4096 loses more than cuBLASLt's default, which
    promotes too; over one tile of 128 terms it loses little)."""

    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float8_e4m3fn"), B: T.Tensor((N, K), "float8_e4m3fn"),
               C: T.Tensor((M, N), BF16)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), "float8_e4m3fn")
            B_s = T.alloc_shared((block_N, block_K), "float8_e4m3fn")
            part = T.alloc_fragment((block_M, block_N), "float32")
            acc = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(acc)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[by * block_M, k * block_K], A_s)
                T.copy(B[bx * block_N, k * block_K], B_s)
                T.gemm(A_s, B_s, part, transpose_B=True, clear_accum=True)
                for i, j in T.Parallel(block_M, block_N):
                    acc[i, j] += part[i, j]
            T.copy(acc, C[by * block_M, bx * block_N])
    return kernel


# ---------------------------------------------------------------- references and peers
def _gelu_ref(a, b, bias):
    return F.gelu(a.float() @ b.float() + bias.float(), approximate="tanh")


def _gelu_peer(a, b, bias):
    return F.gelu(torch.addmm(bias, a, b), approximate="tanh")


def _rms_ref(x, w):
    x = x.float()
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w.float()


def _fp8_inputs(dev, M, N, K):
    return [(torch.randn(M, K, device=dev) / 2).to(torch.float8_e4m3fn),
            (torch.randn(N, K, device=dev) / 2).to(torch.float8_e4m3fn)]


def _fp8_peer(a, b):
    one = torch.ones((), device=a.device)
    return torch._scaled_mm(a, b.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)


def _gqa_peer(causal):
    def run(q, k, v):
        return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                              is_causal=causal, enable_gqa=True).transpose(1, 2)
    return run


def _gqa_ref(causal):
    def run(q, k, v):
        groups = q.shape[2] // k.shape[2]
        k, v = (x.repeat_interleave(groups, dim=2) for x in (k, v))
        return F.scaled_dot_product_attention(q.float().transpose(1, 2), k.float().transpose(1, 2),
                                              v.float().transpose(1, 2), is_causal=causal).transpose(1, 2)
    return run


def cases(small=False) -> dict:
    """name -> ``general_programs.Case`` at the benchmark's sizes (``small``: sizes for tests and CI builds)."""
    n = 512 if small else 4096
    bf = lambda dev, *shape: _randn(dev, *shape, dtype=torch.bfloat16)  # noqa: E731
    out = {
        "gemm_bias_gelu_bf16": single_case(
            gemm_bias_gelu(n, n, n), lambda dev: [bf(dev, n, n), bf(dev, n, n) / 8, bf(dev, n)],
            _gelu_ref, _gelu_peer, 2e-2),
    }
    m, ln, lk = (256, 1024, 512) if small else (2048, 11008, 4096)  # a Llama-7B MLP projection
    out["linear_llama_mlp"] = single_case(linear(m, ln, lk), lambda dev: [_randn(dev, m, lk), _randn(dev, ln, lk)],
                                          lambda x, w: x.float() @ w.float().T, lambda x, w: F.linear(x, w), 2e-2)
    g = (2, 8, 2, 512, 128) if small else (8, 32, 8, 4096, 128)  # B, H, H_kv, S, D
    for causal in (False, True):
        out["gqa_bf16" + ("_causal" if causal else "")] = single_case(
            flash_attention_gqa(*g, causal, dtype=BF16),
            lambda dev: [bf(dev, g[0], g[3], g[1], g[4]), bf(dev, g[0], g[3], g[2], g[4]),
                         bf(dev, g[0], g[3], g[2], g[4])], _gqa_ref(causal), _gqa_peer(causal), 2e-2)
    rows = 1024 if small else 16384
    out["rms_norm_bf16"] = single_case(rms_norm(rows, 4096), lambda dev: [bf(dev, rows, 4096), bf(dev, 4096)],
                                       _rms_ref, lambda x, w: F.rms_norm(x, (4096,), w, 1e-6), 2e-2, gemm=False)
    out["softmax"] = single_case(softmax(rows, 4096), lambda dev: [_randn(dev, rows, 4096)],
                                 lambda x: torch.softmax(x.float(), -1), lambda x: torch.softmax(x, -1), 2e-2,
                                 gemm=False)
    out["gemm_fp8"] = single_case(gemm_fp8(n, n, n), lambda dev: _fp8_inputs(dev, n, n, n),
                                  lambda a, b: a.float() @ b.float().T, _fp8_peer, 2e-2)
    out["gemm_fp8_promoted"] = single_case(gemm_fp8_promoted(n, n, n), lambda dev: _fp8_inputs(dev, n, n, n),
                                           lambda a, b: a.float() @ b.float().T, _fp8_peer, 2e-2)
    return out


def conv_gather(N, C, H, W, F, K, stride, dilation, pad, block_M=32, block_N=32, block_K=32, stages=2, threads=128,
                dtype="float16"):
    """TileLang's convolution example's form: the image tile gathered by a ``T.Parallel`` loop with Python
    temporaries and a bounds predicate (no T.im2col), the filter and output viewed flat, the result staged."""
    OH = (H + 2 * pad - dilation * (K - 1) - 1) // stride + 1
    OW = (W + 2 * pad - dilation * (K - 1) - 1) // stride + 1

    @T.prim_func
    def main(data: T.Tensor((N, H, W, C), dtype), kernel: T.Tensor((K, K, C, F), dtype),
             out: T.Tensor((N, OH, OW, F), dtype)):
        with T.Kernel(T.ceildiv(F, block_N), T.ceildiv(N * OH * OW, block_M), threads=threads) as (bx, by):
            data_shared = T.alloc_shared((block_M, block_K), dtype)
            kernel_shared = T.alloc_shared((block_K, block_N), dtype)
            out_local = T.alloc_fragment((block_M, block_N), "float")
            out_shared = T.alloc_shared((block_M, block_N), dtype)
            kernel_flat = T.Tensor((K * K * C, F), dtype, kernel.data)
            out_flat = T.Tensor((N * OH * OW, F), dtype, out.data)
            T.clear(out_local)
            for k_iter in T.Pipelined(T.ceildiv(K * K * C, block_K), num_stages=stages):
                for i, j in T.Parallel(block_M, block_K):
                    k = k_iter * block_K + j
                    m = by * block_M + i
                    access_h = m % (OH * OW) // OW * stride + k // (K * C) * dilation - pad
                    access_w = m % OW * stride + k // C % K * dilation - pad
                    in_bound = (access_h >= 0) and (access_w >= 0) and (access_h < H) and (access_w < W)
                    data_shared[i, j] = T.if_then_else(in_bound, data[m // (OH * OW), access_h, access_w, k % C], 0)
                T.copy(kernel_flat[k_iter * block_K, bx * block_N], kernel_shared)
                T.gemm(data_shared, kernel_shared, out_local)
            T.copy(out_local, out_shared)
            T.copy(out_shared, out_flat[by * block_M, bx * block_N])
    return main


def conv_case(N, C, H, W, F, K=3, stride=1, dilation=1, pad=1, **cfg):
    """:func:`conv_gather` as a ``general_programs.Case``: NHWC fp16 image, (K, K, C, F) filter, against torch's
    conv2d in channels-last (cuDNN) on the same tensors, the filter laid out for it once, outside the timing."""
    func = conv_gather(N, C, H, W, F, K, stride, dilation, pad, **cfg)
    cache = {}

    def nchw(x, w):
        key = w.data_ptr()
        if key not in cache:
            cache[key] = w.permute(3, 2, 0, 1).contiguous(memory_format=torch.channels_last)
        return x.permute(0, 3, 1, 2), cache[key]  # the NHWC image is a channels-last NCHW view already

    def peer(x, w):
        return torch.nn.functional.conv2d(*nchw(x, w), stride=stride, padding=pad, dilation=dilation)

    return single_case(func, lambda dev: [_randn(dev, N, H, W, C), _randn(dev, K, K, C, F)],
                       lambda x, w: conv_ref(x, w, stride, dilation, pad), peer, 2e-2)


def conv_ref(x, w, stride, dilation, pad):
    """The NHWC convolution of ``x`` with the (K, K, C, F) filter ``w`` in float64, as NHWC."""
    y = torch.nn.functional.conv2d(x.double().permute(0, 3, 1, 2), w.double().permute(3, 2, 0, 1), stride=stride,
                                   padding=pad, dilation=dilation)
    return y.permute(0, 2, 3, 1)
