"""Element-wise add with T.Parallel over a 2-d tile, on a size that is not a multiple of the tile."""
import torch

import tiledsl
import tiledsl.language as T


@tiledsl.jit(out_idx=[-1])
def elementwise_add(M, N, block_M=32, block_N=32, threads=128, dtype="float32"):
    @T.prim_func
    def kernel(A: T.Tensor((M, N), dtype), B: T.Tensor((M, N), dtype), C: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            for i, j in T.Parallel(block_M, block_N):
                C[by * block_M + i, bx * block_N + j] = A[by * block_M + i, bx * block_N + j] + \
                    B[by * block_M + i, bx * block_N + j]
    return kernel


def main(M=1000, N=300):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    a, b = torch.randn(M, N, device=device), torch.randn(M, N, device=device)
    c = elementwise_add(M, N)(a, b)
    torch.testing.assert_close(c, a + b)
    print(f"elementwise add {M}x{N} on {device}: matches torch")


if __name__ == "__main__":
    main()
