"""CUDA benchmarks: tiledsl kernels against torch (cuBLAS GEMM, torch softmax / rms_norm) on the current GPU.

Method: CUDA events around each launch, warm-up excluded, L2 flushed (a 256 MB write) before every repetition,
median over repetitions; ours and the peer alternate in rounds so clock drift hits both. Prints one line per
benchmark with the figures and the ratio (ours / peer for throughput), the path our kernel took (``kernel``: a
Hopper kernel or the generic lowering) and, for attention, the SDPA backend torch used. Outputs are checked with
poisoned (NaN) buffers before timing (GEMMs element-wise, with a bound derived from K and the dtype); a wrong
result fails the run (exit status 1, after printing every result). Peers write into preallocated outputs where
torch allows it (``torch.matmul(out=)``); softmax, rms_norm and SDPA have no ``out=`` and allocate theirs.
Usage: python benchmarks/bench_cuda.py [--only gemm,softmax,rmsnorm,attention]
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "testing"))

import tiledsl  # noqa: E402
from gemm_tolerance import gemm_mismatch  # noqa: E402
from test_cuda_programs import flash_attention, flash_ref, gemm, rms_norm, softmax  # noqa: E402

_flush = None


def _l2_flush():
    global _flush
    if _flush is None:
        _flush = torch.empty(256 * 1024 * 1024, dtype=torch.int8, device="cuda")
    _flush.zero_()


def time_once(fn) -> float:
    """Milliseconds of one call of ``fn`` after an L2 flush."""
    _l2_flush()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end)


def compare(ours, peer, warmup=10, rounds=10, per_round=10):
    """Median ms of ``ours`` and ``peer``, timed alternately."""
    for _ in range(warmup):
        ours()
        peer()
    torch.cuda.synchronize()
    a, b = [], []
    for _ in range(rounds):
        a += [time_once(ours) for _ in range(per_round)]
        b += [time_once(peer) for _ in range(per_round)]
    return statistics.median(a), statistics.median(b)


def bench_gemm(dtype, n, cfg):
    tdt = getattr(torch, dtype)
    a = torch.randn(n, n, device="cuda").to(tdt)
    b = torch.randn(n, n, device="cuda").to(tdt)
    c = torch.full((n, n), float("nan"), device="cuda", dtype=tdt)
    peer_out = torch.empty(n, n, device="cuda", dtype=tdt)
    kernel = tiledsl.compile(gemm(n, n, n, dtype=dtype, **cfg), out_idx=[], target="cuda")
    kernel(a, b, c)
    wrong = gemm_mismatch(c, a, b)
    ms, ms_ref = compare(lambda: kernel(a, b, c), lambda: torch.matmul(a, b, out=peer_out))
    flop = 2 * n ** 3
    return {"bench": f"gemm {dtype} {n}^3", "cfg": cfg, "kernel": kernel.kernel_info, "ours_ms": ms,
            "peer_ms": ms_ref, "ours_tflops": flop / ms / 1e9, "peer_tflops": flop / ms_ref / 1e9,
            "ratio": ms_ref / ms, "wrong": wrong, "ok": not wrong, "peer": "torch.matmul(out=) (cuBLAS)"}


def bench_attention(B, H, S, D, causal, cfg):
    q, k, v = (torch.randn(B, S, H, D, device="cuda").half() for _ in range(3))
    o = torch.full_like(q, float("nan"))
    kernel = tiledsl.compile(flash_attention(B, H, S, D, causal, **cfg), out_idx=[], target="cuda")
    kernel(q, k, v, o)
    err = (o.float() - flash_ref(causal)(q, k, v)).abs().max().item()  # NaN (unwritten) fails the check below
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
    peer = lambda: torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, is_causal=causal)  # noqa: E731
    ms, ms_ref = compare(lambda: kernel(q, k, v, o), peer)
    flop = 4 * B * H * S * S * D * (0.5 if causal else 1)
    return {"bench": f"flash attention fp16 B{B} H{H} S{S} D{D}{' causal' if causal else ''}", "cfg": cfg,
            "kernel": kernel.kernel_info, "ours_ms": ms, "peer_ms": ms_ref, "ours_tflops": flop / ms / 1e9,
            "peer_tflops": flop / ms_ref / 1e9, "ratio": ms_ref / ms, "max_abs_err": err, "ok": err <= 2e-2,
            "peer": "torch SDPA (allocates its output)", "sdpa_backend": sdpa_backend(qt, kt, vt, causal)}


def sdpa_backend(q, k, v, causal) -> str:
    """The backend torch's SDPA dispatches to for these [B, H, S, D] inputs."""
    try:
        from torch.nn.attention import SDPBackend

        return SDPBackend(torch._fused_sdp_choice(q, k, v, None, 0.0, causal)).name
    except Exception as err:  # a private API: say so rather than guess
        return f"unknown ({type(err).__name__})"


def bench_rowwise(name, factory, peer_fn, M, N, dtype, cfg, tol):
    tdt = getattr(torch, dtype)
    x = torch.randn(M, N, device="cuda").to(tdt)
    y = torch.full_like(x, float("nan"))
    kernel = tiledsl.compile(factory(M, N, dtype=dtype, **cfg), out_idx=[], target="cuda")
    kernel(x, y)
    ref = peer_fn(x)
    err = (y.float() - ref.float()).abs().max().item()
    ms, ms_ref = compare(lambda: kernel(x, y), lambda: peer_fn(x))
    nbytes = 2 * x.numel() * x.element_size()
    return {"bench": f"{name} {dtype} {M}x{N}", "cfg": cfg, "kernel": kernel.kernel_info, "ours_ms": ms,
            "peer_ms": ms_ref,
            "ours_tbps": nbytes / ms / 1e9, "peer_tbps": nbytes / ms_ref / 1e9, "ratio": ms_ref / ms,
            "max_abs_err": err, "ok": err <= tol}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="gemm,softmax,rmsnorm")
    ap.add_argument("--gemm-configs", default=None, help="JSON list of gemm configs")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--dtypes", default="float16,bfloat16", help="GEMM dtypes")
    args = ap.parse_args()
    which = set(args.only.split(","))
    results = []
    print("device:", torch.cuda.get_device_name(), "| date:", time.strftime("%Y-%m-%d"), flush=True)
    if "gemm" in which:
        cfgs = json.loads(args.gemm_configs) if args.gemm_configs else [
            dict(block_M=128, block_N=128, block_K=32, num_stages=3, threads=128)]
        for dtype in args.dtypes.split(","):
            for cfg in cfgs:
                results.append(bench_gemm(dtype, 4096, cfg))
                print(json.dumps(results[-1]), flush=True)
    if "softmax" in which:
        for cfg in (dict(threads=128), dict(threads=256)):
            results.append(bench_rowwise("softmax", softmax, lambda x: torch.softmax(x, dim=1), 16384, 4096,
                                         "float16", cfg, 2e-3))
            print(json.dumps(results[-1]), flush=True)
    if "rmsnorm" in which:
        peer = lambda x: torch.nn.functional.rms_norm(x, (x.shape[1],), eps=1e-6)  # noqa: E731
        for cfg in (dict(block_M=1, threads=128), dict(block_M=1, threads=256)):
            results.append(bench_rowwise("rmsnorm", rms_norm, peer, 16384, 4096, "float16", cfg, 2e-2))
            print(json.dumps(results[-1]), flush=True)
    if "attention" in which:
        for causal in (False, True):
            results.append(bench_attention(4, 16, 2048, 64, causal, dict(block_M=64, block_N=64, num_stages=2)))
            print(json.dumps(results[-1]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    wrong = [r["bench"] for r in results if not r.get("ok")]
    if wrong:
        raise SystemExit(f"wrong results: {wrong}")


if __name__ == "__main__":
    main()
