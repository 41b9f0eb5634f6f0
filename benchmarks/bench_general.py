"""Programs written plainly in the tile language, timed against their torch peer in the same run, with the
whole-kernel Hopper matchers switched off (the general passes only).

Each program is checked against torch first (fresh random inputs, output poisoned with NaN), then timed in
alternating rounds with its peer (``tiledsl.profiler.do_bench``: CUDA events, L2 flushed, median). The report
records the lowering path, the gemm instruction the generated code uses (wgmma / mma.sync / none) and how each
pipelined loop was built (cp.async / tma / tma+warp_specialized). CPU CI builds every program for sm_90a
(``testing/test_wgmma.py``), so a regression to mma.sync shows there.

    python benchmarks/bench_general.py [--only gemm,swiglu] [--small] [--rounds 5]
    TILEDSL_WARP_SPECIALIZE=1 python benchmarks/bench_general.py ...   (producer warpgroup for gemm-only loops)
    TILEDSL_DISABLE_TMA=1 python benchmarks/bench_general.py ...       (cp.async pipelines, to compare)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics

import torch

import tiledsl
import tiledsl.language as T

F16 = "float16"


# ---------------------------------------------------------------- the programs (plain tile language)
def gemm(M, N, K, block_M=128, block_N=256, block_K=64, stages=4, threads=256, dtype=F16, residual=False,
         trans_A=False, trans_B=False):
    """C = A @ B (A stored [K, M] when trans_A, B stored [N, K] when trans_B), optionally + R read in the
    epilogue."""
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


def int8_weight_gemm(M, N, K, block_M=128, block_N=128, block_K=64, stages=4, threads=256):
    """C = (A @ dequant(W)) * scale[n]: fp16 A, int8 W [K, N] converted to fp16 in shared memory per tile."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), F16), W: T.Tensor((K, N), "int8"), S: T.Tensor((N,), "float32"),
               C: T.Tensor((M, N), F16)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), F16)
            W_s = T.alloc_shared((block_K, block_N), "int8")
            B_s = T.alloc_shared((block_K, block_N), F16)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[by * block_M, k * block_K], A_s)
                T.copy(W[k * block_K, bx * block_N], W_s)
                for i, j in T.Parallel(block_K, block_N):
                    B_s[i, j] = T.Cast(F16, W_s[i, j])
                T.gemm(A_s, B_s, C_f)
            for i, j in T.Parallel(block_M, block_N):
                C_f[i, j] = C_f[i, j] * S[bx * block_N + j]
            T.copy(C_f, C[by * block_M, bx * block_N])
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
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "flash_attention.py"
    spec = importlib.util.spec_from_file_location("bench_general_fa", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.flash_attention.get_tir(B, H, S, D, causal, block_M=block_M, block_N=block_N, num_stages=stages,
                                       threads=threads)


# ---------------------------------------------------------------- the table: (program, inputs, reference, peer)
def _randn(*shape, dtype=torch.float16):
    return torch.randn(*shape, device="cuda").to(dtype)


def programs(small=False):
    """name -> (PrimFunc, make inputs, fp32 reference, torch peer, tolerance, wgmma expected)."""
    n = 1024 if small else 4096
    bn, bm = (512 if small else 2048), 8
    out = {
        "gemm": (gemm(n, n, n), lambda: [_randn(n, n), _randn(n, n), _randn(n, n)],
                 lambda a, b, r: a.float() @ b.float(), lambda a, b, r: a @ b, 2e-2, True),
        "gemm_residual": (gemm(n, n, n, residual=True), lambda: [_randn(n, n), _randn(n, n), _randn(n, n)],
                          lambda a, b, r: a.float() @ b.float() + r.float(),
                          lambda a, b, r: torch.addmm(r, a, b), 2e-2, True),
        "gemm_A_T": (gemm(n, n, n, trans_A=True), lambda: [_randn(n, n), _randn(n, n), _randn(n, n)],
                     lambda a, b, r: a.float().T @ b.float(), lambda a, b, r: a.T @ b, 2e-2, True),
        "gemm_B_T": (gemm(n, n, n, trans_B=True), lambda: [_randn(n, n), _randn(n, n), _randn(n, n)],
                     lambda a, b, r: a.float() @ b.float().T, lambda a, b, r: a @ b.T, 2e-2, True),
        "batched": (batched_gemm(bm, bn, bn, bn), lambda: [_randn(bm, bn, bn), _randn(bm, bn, bn)],
                    lambda a, b: a.float() @ b.float(), torch.bmm, 2e-2, True),
        "swiglu": (swiglu(n, n, n), lambda: [_randn(n, n), _randn(n, n) / 8, _randn(n, n) / 8],
                   lambda a, g, u: torch.nn.functional.silu(a.float() @ g.float()) * (a.float() @ u.float()),
                   lambda a, g, u: torch.nn.functional.silu(a @ g) * (a @ u), 3e-2, True),
        "int8_weight_m4096": (int8_weight_gemm(n, n, n), lambda: _int8_inputs(n, n, n),
                              _int8_ref, _int8_peer(), 3e-2, True),
        "int8_weight_m16": (int8_weight_gemm(16, n, n, block_M=64, block_N=64, threads=128),
                            lambda: _int8_inputs(16, n, n), _int8_ref, _int8_peer(), 3e-2, True),
        "layernorm": (layer_norm(4096 if small else 16384, 4096), lambda: _ln_inputs(4096 if small else 16384),
                      _ln_ref, _ln_ref_half, 2e-2, False),
    }
    sizes = [(256 if small else 1024) * (g % 3 + 1) + 64 * g for g in range(8)]
    gn = 512 if small else 4096
    out["grouped"] = (grouped_gemm(8, sum(sizes), max(sizes), gn, gn), lambda: _grouped_inputs(sizes, gn),
                      _grouped_ref, _grouped_peer(), 2e-2, True)
    if not small:
        out["gemm_8192"] = (gemm(8192, 8192, 8192), lambda: [_randn(8192, 8192) for _ in range(3)],
                            lambda a, b, r: a.float() @ b.float(), lambda a, b, r: a @ b, 2e-2, True)
    fa = (2, 8, 1024, 128) if small else (8, 32, 4096, 128)
    for causal in (False, True):
        out["flash_attention" + ("_causal" if causal else "")] = (
            flash_attention(*fa, causal), lambda: [_randn(fa[0], fa[2], fa[1], fa[3]) for _ in range(3)],
            _sdpa(causal), _sdpa(causal), 2e-2, True)
    return out


def _sdpa(causal):
    """torch's SDPA on [B, S, H, D] tensors (the kernel's layout), result in the same layout."""
    def run(q, k, v):
        o = torch.nn.functional.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                                             v.transpose(1, 2), is_causal=causal)
        return o.transpose(1, 2)
    return run


def _int8_inputs(M, N, K):
    return [_randn(M, K), torch.randint(-127, 128, (K, N), device="cuda", dtype=torch.int8),
            torch.rand(N, device="cuda") / 64]


def _grouped_inputs(sizes, n):
    offsets = torch.tensor([0] + list(torch.tensor(sizes).cumsum(0)), device="cuda", dtype=torch.int32)
    return [_randn(sum(sizes), n), _randn(len(sizes), n, n), offsets]


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


def _int8_peer():
    """cuBLAS fp16 on the weights dequantized once, outside the timing (``a @ (w * s)``)."""
    cache = {}

    def run(a, w, s):
        key = (w.data_ptr(), s.data_ptr())
        if key not in cache:
            cache[key] = (w.float() * s).half()
        return a @ cache[key]
    return run


def _int8_ref(a, w, s):
    return (a.float() @ w.float()) * s


def _ln_inputs(M, N=4096):
    return [_randn(M, N), _randn(N), _randn(N)]


def _ln_ref(x, w, b):
    return torch.nn.functional.layer_norm(x.float(), (x.shape[1],), w.float(), b.float(), 1e-5)


def _ln_ref_half(x, w, b):
    return torch.nn.functional.layer_norm(x, (x.shape[1],), w, b, 1e-5)


def gemm_instruction(source: str) -> str:
    """Which tensor-core instruction a kernel's CUDA source uses."""
    body = source.split("__global__", 1)[-1]
    if "wgmma_" in body:
        return "wgmma"
    if "mma_sync" in body:
        return "mma.sync"
    return "none"


def run(names, small, rounds, warmup, rep):
    from tiledsl.profiler import do_bench

    os.environ["TILEDSL_DISABLE_HOPPER_GEMM"] = "1"  # the general passes only
    report = {"device": torch.cuda.get_device_name(), "rows": []}
    for name, (func, make, ref, peer, tol, _) in programs(small).items():
        if names and name not in names:
            continue
        kernel = tiledsl.compile(func, out_idx=[], target="cuda")
        inst = gemm_instruction(kernel.get_kernel_source())
        inputs = make()
        want = ref(*inputs).float()
        out = torch.full(want.shape, float("nan"), dtype=torch.float16, device="cuda")
        kernel(*inputs, out)
        torch.cuda.synchronize()
        err = ((out.float() - want).norm() / want.norm()).item()
        ok = bool(not torch.isnan(out).any() and err < tol)
        row = {"program": name, "instruction": inst, "pipelines": kernel.kernel_info.get("pipelines", []),
               "rel_err": err, "correct": ok}
        if ok:
            ours, theirs = [], []
            for _ in range(rounds):
                ours.append(do_bench(lambda: kernel(*inputs, out), warmup=warmup, rep=rep))
                theirs.append(do_bench(lambda: peer(*inputs), warmup=warmup, rep=rep))
            t_ours, t_peer = statistics.median(ours), statistics.median(theirs)
            row.update(ms=t_ours, peer_ms=t_peer, ratio=t_peer / t_ours)
        report["rows"].append(row)
        print(json.dumps(row), flush=True)
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="")
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rep", type=int, default=50)
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    report = run(names, args.small, args.rounds, args.warmup, args.rep)
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "bench_general.json"), "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
