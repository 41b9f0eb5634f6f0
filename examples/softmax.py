"""Row softmax with T.reduce_max / T.reduce_sum on fragments, checked against torch.softmax."""
import torch

import tiledsl
import tiledsl.language as T


@tiledsl.jit(out_idx=[-1])
def softmax(M, N, block_M=4, threads=128, dtype="float16"):
    @T.prim_func
    def kernel(X: T.Tensor((M, N), dtype), Y: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(M, block_M), threads=threads) as bx:
            x = T.alloc_fragment((block_M, N), "float32")
            row_max = T.alloc_fragment((block_M,), "float32")
            row_sum = T.alloc_fragment((block_M,), "float32")
            T.copy(X[bx * block_M, 0], x)
            T.reduce_max(x, row_max, dim=1)
            for i, j in T.Parallel(block_M, N):
                x[i, j] = T.exp(x[i, j] - row_max[i])
            T.reduce_sum(x, row_sum, dim=1)
            for i, j in T.Parallel(block_M, N):
                x[i, j] = x[i, j] / row_sum[i]
            T.copy(x, Y[bx * block_M, 0])
    return kernel


def main(M=257, N=512):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x = torch.randn(M, N, device=device).half()
    y = softmax(M, N)(x)
    torch.testing.assert_close(y.float(), torch.softmax(x.double(), dim=1).float(), rtol=1e-2, atol=1e-3)
    print(f"softmax {M}x{N} on {device}: matches torch")


if __name__ == "__main__":
    main()
