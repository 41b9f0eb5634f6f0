"""FP8 GEMM with a fused epilogue: C = relu(A @ B^T * scale + bias) in bfloat16, from float8_e4m3fn A [M, K] and
B [N, K] (the layout FP8 weights are stored in), accumulated in a float32 fragment; checked against torch. On Hopper
the fp8 tensor cores keep about 14 bits of each running sum (as cuBLASLt's fast mode); docs/cuda.md shows the
program form that adds each K tile's product into float32 registers instead.

    python examples/gemm_fp8.py        # on an H100/H200 it runs as a warp-specialized TMA + wgmma kernel
"""
import torch

import tiledsl
import tiledsl.language as T


@tiledsl.jit(out_idx=[-1])
def fp8_linear(M, N, K, block_M=128, block_N=256, block_K=128, num_stages=4, threads=256,
               in_dtype="float8_e4m3fn", out_dtype="bfloat16"):
    @T.prim_func
    def kernel(A: T.Tensor((M, K), in_dtype), B: T.Tensor((N, K), in_dtype), scale: T.float32,
               bias: T.Tensor((N,), "float32"), C: T.Tensor((M, N), out_dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), in_dtype)
            B_s = T.alloc_shared((block_N, block_K), in_dtype)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for ko in T.Pipelined(T.ceildiv(K, block_K), num_stages=num_stages):
                T.copy(A[by * block_M, ko * block_K], A_s)
                T.copy(B[bx * block_N, ko * block_K], B_s)
                T.gemm(A_s, B_s, C_f, transpose_B=True)
            for i, j in T.Parallel(block_M, block_N):
                C_f[i, j] = T.max(C_f[i, j] * scale + bias[bx * block_N + j], 0.0)
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def reference(a, b, scale, bias):
    return torch.relu(a.double() @ b.double().T * scale + bias.double())


def main():
    device = "cuda" if torch.cuda.is_available() else "cpu"
    M, N, K = (1024, 2048, 4096) if device == "cuda" else (96, 128, 256)
    tiles = {} if device == "cuda" else dict(block_M=32, block_N=64, block_K=64, num_stages=2, threads=128)
    kernel = fp8_linear(M, N, K, **tiles)
    a = torch.randn(M, K, device=device).to(torch.float8_e4m3fn)
    b = (torch.randn(N, K, device=device) / 4).to(torch.float8_e4m3fn)
    bias = torch.randn(N, device=device)
    c = kernel(a, b, 0.5, bias)
    torch.testing.assert_close(c.double(), reference(a, b, 0.5, bias), rtol=2e-2, atol=5e-2)
    print(f"fp8 linear {M}x{N}x{K} (e4m3 in, bf16 out) on {device}: matches torch")


if __name__ == "__main__":
    main()
