"""RMSNorm: y = x / sqrt(mean(x^2) + eps) * w, one tile of rows per block, checked against torch."""
import torch

import tiledsl
import tiledsl.language as T


@tiledsl.jit(out_idx=[-1])
def rms_norm(M, N, block_M=2, threads=128, eps=1e-6, dtype="float16"):
    @T.prim_func
    def kernel(X: T.Tensor((M, N), dtype), W: T.Tensor((N,), dtype), Y: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(M, block_M), threads=threads) as bx:
            x = T.alloc_fragment((block_M, N), "float32")
            sq = T.alloc_fragment((block_M, N), "float32")
            ss = T.alloc_fragment((block_M,), "float32")
            T.copy(X[bx * block_M, 0], x)
            for i, j in T.Parallel(block_M, N):
                sq[i, j] = x[i, j] * x[i, j]
            T.reduce_sum(sq, ss, dim=1)
            for i in T.Parallel(block_M):
                ss[i] = T.rsqrt(ss[i] / N + eps)
            for i, j in T.Parallel(block_M, N):
                x[i, j] = x[i, j] * ss[i] * W[j]
            T.copy(x, Y[bx * block_M, 0])
    return kernel


def reference(x, w, eps=1e-6):
    x64 = x.double()
    return x64 * torch.rsqrt(x64.pow(2).mean(-1, keepdim=True) + eps) * w.double()


def main(M=129, N=1024):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x = torch.randn(M, N, device=device).half()
    w = torch.rand(N, device=device).half() + 0.5
    y = rms_norm(M, N)(x, w)
    torch.testing.assert_close(y.double(), reference(x, w), rtol=1e-2, atol=1e-2)
    print(f"rmsnorm {M}x{N} on {device}: matches torch")


if __name__ == "__main__":
    main()
