"""Autotuning a GEMM (TileLang's API: only the imports differ), checked against torch.

    python examples/autotune_gemm.py     # tunes on the GPU if there is one, else on the CPU (small, < 1 minute)

The first run tunes (candidates compile in parallel worker processes while another process checks and times
them); later runs, in this process or a new one, read the result from the cache (TILEDSL_CACHE_DIR).
"""
import itertools
import logging

import torch

import tiledsl
import tiledsl.language as T


def get_configs(M, N, K):
    """The config space: a callable receives the factory's arguments."""
    if torch.cuda.is_available():
        return [dict(block_M=m, block_N=n, block_K=k, num_stages=s, threads=t)
                for m, n, k, s, t in itertools.product([64, 128], [64, 128], [32, 64], [2, 3], [128, 256])]
    return [dict(block_M=m, block_N=n) for m, n in itertools.product([32, 64], [32, 64])]


def too_big(config, M, N, K):
    """prune_fn: drop tiles larger than the problem."""
    return config.get("block_M", 0) > M or config.get("block_N", 0) > N


def ref_program(A, B):
    return A @ B


@tiledsl.autotune(configs=get_configs, warmup=5, rep=20, timeout=60, ref_prog=ref_program, prune_fn=too_big)
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


def main():
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the tuner's summary table is logged at INFO
    on_gpu = torch.cuda.is_available()
    device = "cuda" if on_gpu else "cpu"
    M = N = K = 4096 if on_gpu else 128
    kernel = matmul(M, N, K)  # tunes (or loads the cached result) and returns the best kernel
    print(f"best config {kernel.config}: {_ms(kernel.latency)} (torch: {_ms(kernel.ref_latency)})")

    a = torch.randn(M, K, device=device, dtype=torch.float16)
    b = torch.randn(K, N, device=device, dtype=torch.float16)
    c = kernel(a, b)
    torch.testing.assert_close(c.float(), a.float() @ b.float(), rtol=1e-2, atol=1e-1)
    print("result matches torch")

    # the same result, programmatically, saved and loaded again (no tuning, no compiling)
    result = matmul.tune(M, N, K)
    folder = result.save_to_disk(tiledsl_cache_dir() / "examples" / "autotune_gemm")
    loaded = tiledsl.AutotuneResult.load_from_disk(folder)
    torch.testing.assert_close(loaded.kernel(a, b), c)
    print(f"saved to and loaded from {folder}")


def _ms(latency) -> str:
    """A time in ms, or why there is none (a config from a shipped file, or a cache record older than the field)."""
    return f"{latency:.4g} ms" if latency is not None else "not measured here"


def tiledsl_cache_dir():
    from tiledsl import config

    return config.cache_dir()


if __name__ == "__main__":
    main()
