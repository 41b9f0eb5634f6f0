"""The newer-style test programs (``testing/eager_programs.py``) on a GPU, each against its torch reference.

Each program is first checked against a float64 torch reference on its benchmark inputs, then it and the torch
reference are timed with ``tiledsl.profiler.do_bench`` (CUDA events, L2 flushed, median) in alternating rounds.
Ratio = torch time / tiledsl time (above 1: tiledsl is faster). Prints a JSON report (also written to
$OUT/bench_newer_style.json when OUT is set). Speed on Hopper is the subject of the general wgmma/TMA work; this
records where these programs stand.

    python benchmarks/bench_newer_style.py [--rounds 5]
"""
import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "testing"))

import eager_programs as P  # noqa: E402
from tiledsl.profiler import do_bench  # noqa: E402


def _rand(*shape, dtype=torch.float16):
    return torch.randn(*shape, device="cuda", dtype=torch.float32).to(dtype)


def cases():
    """(name, tiledsl callable, torch callable, check) for each program."""
    a, b = _rand(4096, 4096), _rand(4096, 4096)
    yield ("gemm 4096^3 fp16", lambda: P.gemm(a, b, block_M=128, block_N=128, block_K=32, num_stages=3),
           lambda: a @ b, lambda out: torch.testing.assert_close(out.float(), (a.double() @ b.double()).float(),
                                                                 rtol=2e-2, atol=2e-1))
    a2, b2 = _rand(1024, 8192), _rand(8192, 1024)
    c2 = torch.zeros(1024, 1024, device="cuda")

    def splitk():
        c2.zero_()
        P.gemm_splitk(a2, b2, c2, 4, block_M=128, block_N=128)
        return c2
    yield ("split-K gemm 1024x1024x8192", splitk, lambda: (a2 @ b2).float(),
           lambda out: torch.testing.assert_close(out, (a2.double() @ b2.double()).float(), rtol=2e-2, atol=2e-1))
    packed = torch.randint(0, 256, (4096, 2048), dtype=torch.uint8, device="cuda")
    lo, hi = (packed & 0xF).to(torch.int16), (packed >> 4).to(torch.int16)
    w = torch.stack([lo, hi], -1).reshape(4096, 4096)
    w = torch.where(w >= 8, w - 16, w).half()
    a3 = _rand(1024, 4096)
    yield ("int4 dequant gemm 1024x4096x4096", lambda: P.gemm_dequant_int4(a3, packed, block_M=128, block_N=128),
           lambda: a3 @ w.T, lambda out: torch.testing.assert_close(out.float(), (a3.double() @ w.double().T)
                                                                    .float(), rtol=2e-2, atol=5e-1))
    x, g = _rand(8192, 1024, dtype=torch.float32), _rand(1024, dtype=torch.float32)
    yield ("rms norm 8192x1024 fp32", lambda: P.rms_norm(x, g, block_M=4)[0],
           lambda: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * g,
           lambda out: torch.testing.assert_close(out, x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * g,
                                                  rtol=1e-4, atol=1e-4))
    q, k, v = (_rand(4, 2048, 16, 128) for _ in range(3))
    sdpa = lambda: F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))  # noqa
    yield ("attention fwd 4x16x2048x128", lambda: P.attention_fwd(q, k, v, block_M=128, block_N=128, threads=256)[0],
           sdpa, lambda out: torch.testing.assert_close(out.transpose(1, 2).float(), sdpa().float(), rtol=1e-2,
                                                         atol=1e-2))
    qd, kd, vd = _rand(4, 8, 128), _rand(4, 8192, 8, 128), _rand(4, 8192, 8, 128)

    def decode():
        o_part, l_part = P.decode_split(qd, kd, vd, num_split=16, block_N=64)
        return P.decode_combine(o_part, l_part)

    def ref():
        return F.scaled_dot_product_attention(qd[:, :, None], kd.transpose(1, 2), vd.transpose(1, 2))[:, :, 0]
    yield ("decode 4x8x8192x128", decode, ref,
           lambda out: torch.testing.assert_close(out.float(), ref().float(), rtol=1e-2, atol=1e-2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ns = ap.parse_args()
    report = {"device": torch.cuda.get_device_name(), "rows": []}
    for name, ours, theirs, check in cases():
        row = {"name": name}
        try:
            check(ours())
            row["correct"] = True
            t_ours, t_torch = [], []
            for _ in range(ns.rounds):
                t_ours.append(do_bench(ours, warmup=10, rep=50))
                t_torch.append(do_bench(theirs, warmup=10, rep=50))
            row.update(tiledsl_ms=statistics.median(t_ours), torch_ms=statistics.median(t_torch))
            row["ratio_torch_over_tiledsl"] = row["torch_ms"] / row["tiledsl_ms"]
        except Exception as err:  # a failing case is reported, the others still run
            row.update(correct=False, error=f"{type(err).__name__}: {err}"[:500])
        report["rows"].append(row)
        print(json.dumps(row), flush=True)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "bench_newer_style.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
