"""GEMM, written exactly as TileLang documents it (only the imports differ), checked against torch.

    python examples/gemm.py            # runs on the GPU if there is one, else on the CPU
"""
import torch

import tiledsl
import tiledsl.language as T


@tiledsl.jit(out_idx=[-1])
def matmul(M, N, K, block_M=128, block_N=128, block_K=32, num_stages=3, threads=128, dtype="float16"):
    @T.prim_func
    def kernel(A: T.Tensor((M, K), dtype), B: T.Tensor((K, N), dtype), C: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
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


def main(M=256, N=256, K=256):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    kernel = matmul(M, N, K, block_M=64, block_N=64)
    a = torch.randn(M, K, device=device).half()
    b = torch.randn(K, N, device=device).half()
    c = kernel(a, b)
    ref = (a.double() @ b.double()).half()
    torch.testing.assert_close(c, ref, rtol=1e-2, atol=1e-2)
    print(f"gemm {M}x{N}x{K} on {device}: matches torch")


if __name__ == "__main__":
    main()
