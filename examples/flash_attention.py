"""Flash attention forward (online softmax), in TileLang's documented style, checked against torch: multi-head and
grouped-query attention (``groups`` query heads share one K/V head), float16 or bfloat16.

    python examples/flash_attention.py
"""
import math

import torch

import tiledsl
import tiledsl.language as T


@tiledsl.jit(out_idx=[3])
def flash_attention(batch, heads, seq_len, dim, is_causal, block_M=64, block_N=64, num_stages=1, threads=128,
                    groups=1, dtype="float16"):
    scale = (1.0 / dim) ** 0.5 * 1.44269504  # log2(e): softmax in base 2
    shape = [batch, seq_len, heads, dim]
    kv_shape = [batch, seq_len, heads // groups, dim]
    accum_dtype = "float32"

    @T.prim_func
    def main(Q: T.Tensor(shape, dtype), K: T.Tensor(kv_shape, dtype), V: T.Tensor(kv_shape, dtype),
             Output: T.Tensor(shape, dtype)):
        with T.Kernel(T.ceildiv(seq_len, block_M), heads, batch, threads=threads) as (bx, by, bz):
            Q_shared = T.alloc_shared([block_M, dim], dtype)
            K_shared = T.alloc_shared([block_N, dim], dtype)
            V_shared = T.alloc_shared([block_N, dim], dtype)
            O_shared = T.alloc_shared([block_M, dim], dtype)
            acc_s = T.alloc_fragment([block_M, block_N], accum_dtype)
            acc_s_cast = T.alloc_fragment([block_M, block_N], dtype)
            acc_o = T.alloc_fragment([block_M, dim], accum_dtype)
            scores_max = T.alloc_fragment([block_M], accum_dtype)
            scores_max_prev = T.alloc_fragment([block_M], accum_dtype)
            scores_scale = T.alloc_fragment([block_M], accum_dtype)
            scores_sum = T.alloc_fragment([block_M], accum_dtype)
            logsum = T.alloc_fragment([block_M], accum_dtype)

            T.copy(Q[bz, bx * block_M:(bx + 1) * block_M, by, :], Q_shared)
            T.fill(acc_o, 0)
            T.fill(logsum, 0)
            T.fill(scores_max, -T.infinity(accum_dtype))
            loop_range = (T.min(T.ceildiv(seq_len, block_N), T.ceildiv((bx + 1) * block_M, block_N))
                          if is_causal else T.ceildiv(seq_len, block_N))
            for k in T.Pipelined(loop_range, num_stages=num_stages):
                T.copy(K[bz, k * block_N:(k + 1) * block_N, by // groups, :], K_shared)
                if is_causal:
                    for i, j in T.Parallel(block_M, block_N):
                        acc_s[i, j] = T.if_then_else(bx * block_M + i >= k * block_N + j, 0,
                                                     -T.infinity(acc_s.dtype))
                else:
                    for i, j in T.Parallel(block_M, block_N):
                        acc_s[i, j] = T.if_then_else(k * block_N + j >= seq_len, -T.infinity(acc_s.dtype), 0)
                T.gemm(Q_shared, K_shared, acc_s, transpose_B=True, policy=T.GemmWarpPolicy.FullRow)
                T.copy(scores_max, scores_max_prev)
                T.reduce_max(acc_s, scores_max, dim=1, clear=False)
                for i in T.Parallel(block_M):
                    scores_scale[i] = T.exp2(scores_max_prev[i] * scale - scores_max[i] * scale)
                for i, j in T.Parallel(block_M, block_N):
                    acc_s[i, j] = T.exp2(acc_s[i, j] * scale - scores_max[i] * scale)
                T.reduce_sum(acc_s, scores_sum, dim=1)
                for i in T.Parallel(block_M):
                    logsum[i] = logsum[i] * scores_scale[i] + scores_sum[i]
                T.copy(acc_s, acc_s_cast)
                for i, j in T.Parallel(block_M, dim):
                    acc_o[i, j] *= scores_scale[i]
                T.copy(V[bz, k * block_N:(k + 1) * block_N, by // groups, :], V_shared)
                T.gemm(acc_s_cast, V_shared, acc_o, policy=T.GemmWarpPolicy.FullRow)
            for i, j in T.Parallel(block_M, dim):
                acc_o[i, j] /= logsum[i]
            T.copy(acc_o, O_shared)
            T.copy(O_shared, Output[bz, bx * block_M:(bx + 1) * block_M, by, :])

    return main


def reference(q, k, v, is_causal):
    groups = q.shape[2] // k.shape[2]
    k, v = (x.repeat_interleave(groups, dim=2) for x in (k, v))  # each K/V head serves `groups` query heads
    q, k, v = (x.double().transpose(1, 2) for x in (q, k, v))  # (B, H, S, D)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if is_causal:
        s = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(s, s, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    return (torch.softmax(scores, -1) @ v).transpose(1, 2)


def main(batch=1, heads=2, seq_len=None, dim=64):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # on the CPU a ragged length exercises the edge handling; on the GPU whole tiles (on Hopper: TMA loads, a
    # producer warpgroup and wgmma, from the general passes)
    seq_len = seq_len or (256 if device == "cuda" else 200)
    q, k, v = (torch.randn(batch, seq_len, heads, dim, device=device).half() for _ in range(3))
    for is_causal in (False, True):
        out = flash_attention(batch, heads, seq_len, dim, is_causal)(q, k, v)
        torch.testing.assert_close(out.double(), reference(q, k, v, is_causal), rtol=2e-2, atol=2e-2)
    print(f"flash attention B{batch} H{heads} S{seq_len} D{dim} on {device}: matches torch (causal and not)")
    # grouped-query attention in bfloat16: 2 query heads per K/V head
    q = torch.randn(batch, seq_len, 2 * heads, dim, device=device).bfloat16()
    k, v = (torch.randn(batch, seq_len, heads, dim, device=device).bfloat16() for _ in range(2))
    out = flash_attention(batch, 2 * heads, seq_len, dim, True, groups=2, dtype="bfloat16")(q, k, v)
    torch.testing.assert_close(out.double(), reference(q, k, v, True), rtol=3e-2, atol=3e-2)
    print(f"grouped-query attention (2 groups) in bfloat16 on {device}: matches torch")


if __name__ == "__main__":
    main()
