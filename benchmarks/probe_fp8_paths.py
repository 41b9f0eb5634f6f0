"""Probe: the fp8 linear of ``examples/gemm_fp8.py`` (C = relu(A B^T * scale + bias), e4m3 in, bf16 out) through
the general passes and through the whole-kernel shortcut on the same inputs, each against float64: how many
elements exceed the benchmark's tolerance (rtol 2e-2, atol 5e-2), the largest errors, and where the two paths
differ. A diagnostic for the general path's fp8 GEMM failing ``bench_gemm_hopper.py``'s check (H100,
2026-12-07).

    python benchmarks/probe_fp8_paths.py [--size 4096] [--out F]
"""
import argparse
import json
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ["TILEDSL_DISABLE_CACHE"] = "1"

import tiledsl  # noqa: E402
from bench_gemm_hopper import fp8_factory  # noqa: E402


def build(shortcut: bool, shape, **config):
    """The fp8 linear of ``shape`` (M, N, K) through the shortcut or the general passes."""
    os.environ["TILEDSL_HOPPER_SHORTCUT"] = "1" if shortcut else "0"
    return tiledsl.compile(fp8_factory(*shape, **config), out_idx=[-1])


def stats(out, exact, rtol=2e-2, atol=5e-2):
    err = (out.double() - exact).abs()
    bad = err > atol + rtol * exact.abs()
    idx = torch.nonzero(bad)[:5].tolist()
    return {"bad": int(bad.sum()), "max_err": float(err.max()), "mean_err": float(err.mean()),
            "first_bad": [(i, j, float(out[i, j]), float(exact[i, j])) for i, j in idx]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    M = N = K = args.size
    torch.manual_seed(0)
    a = torch.randn(M, K, device="cuda").to(torch.float8_e4m3fn)
    b = (torch.randn(N, K, device="cuda") / 4).to(torch.float8_e4m3fn)
    bias = torch.randn(N, device="cuda")
    pre_relu = a.double() @ b.double().T + bias.double()
    exact = torch.relu(pre_relu)
    report = {"device": torch.cuda.get_device_name(), "size": args.size}
    outs = {}
    for name, shortcut, cfg in (("general", False, {}), ("shortcut", True, {}),
                                ("general_128x128", False, dict(block_N=128))):
        kern = build(shortcut, (M, N, K), **cfg)
        out = kern(a, b, 1.0, bias)
        torch.cuda.synchronize()
        outs[name] = out
        row = report[name] = stats(out, exact)
        row["path"] = kern.kernel_info.get("path")
        print(name, row, flush=True)
    # float32 references: torch's own fp8 product in float32 and cuBLASLt's fp8 GEMM
    f32 = torch.relu(a.float() @ b.float().T + bias)
    report["torch_float32"] = stats(f32, exact)
    one = torch.ones((), device="cuda")
    try:
        for fast in (False, True):  # cuBLASLt's fp8 GEMM, promoting to float32 or accumulating in the tensor core
            lt = torch.relu(torch._scaled_mm(a, b.t(), one, one, bias=bias.bfloat16(), out_dtype=torch.bfloat16,
                                             use_fast_accum=fast))
            report["scaled_mm_fast_accum" if fast else "scaled_mm"] = stats(lt, exact)
    except Exception as err:  # noqa: BLE001
        report["scaled_mm"] = {"error": str(err)[:200]}
    diff = (outs["general"].double() - outs["shortcut"].double()).abs()
    report["general_vs_shortcut"] = {"differ": int((diff > 0).sum()), "max": float(diff.max())}
    report["pre_relu_abs_mean"] = float(pre_relu.abs().mean())
    print(json.dumps({k: report.get(k) for k in ("torch_float32", "scaled_mm", "scaled_mm_fast_accum",
                                                 "general_vs_shortcut", "pre_relu_abs_mean")}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
