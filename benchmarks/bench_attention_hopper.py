"""Flash attention forward on an H100/H200 through tiledsl's whole-kernel Hopper shortcut (its hand-written
warp-specialized TMA + wgmma kernel and that kernel's variants; switched on here, off by default), against
torch SDPA (``F.scaled_dot_product_attention`` on [B, H, S, D]-transposed contiguous fp16 inputs) timed in
alternating rounds in the same run.

The tile program is ``examples/flash_attention.py`` (Q/K/V/O in [B, S, H, D], block_M = block_N = 128,
256 threads); ``tiledsl.compile`` replaces it with the kernel of ``tiledsl/passes/hopper/attention_kernel.py``. Each
kernel variant is first checked against fp32 SDPA with a NaN-poisoned output (the full benchmark shape, batches 0
and B-1, and a few small shapes), then timed with ``tiledsl.profiler.do_bench`` (CUDA events, L2 flushed, median).
The entry "tuned" is the configuration (kernel variant, block_N) that tiledsl's autotuner picks, every candidate
checked against fp32 SDPA. Ratio = SDPA time / our time, per round; TFLOP/s = 4 * B * H * S^2 * D / t (half of
that for causal).
Every entry records the path its kernel took (``kernel``: Hopper kernel and variant, or generic) and the SDPA
backend torch dispatched to (``sdpa_backend``; SDPA has no ``out=``, so the peer allocates its output, as
``torch.nn.functional.scaled_dot_product_attention`` always does). A wrong result (a failed check, or a timed
kernel whose output is wrong after timing) fails the run (exit status 1, after the report is written).
Prints a JSON report (and writes it to $OUT/bench_attention_hopper.json when OUT is set).

    python benchmarks/bench_attention_hopper.py [--shape 8,32,4096,128] [--rounds 7]
"""
import argparse
import json
import os
import random
import statistics
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

import tiledsl
from tiledsl.profiler import do_bench

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "flash_attention.py")

SMALL = [  # (B, H, S, D, block_M, block_N): extra correctness shapes
    (2, 4, 512, 128, 128, 128), (1, 3, 256, 64, 64, 64), (1, 2, 384, 128, 128, 64), (2, 2, 256, 64, 64, 128),
    (1, 1, 128, 128, 128, 128), (2, 80, 512, 128, 128, 128),
]


SETTINGS = {"groups": 1, "dtype": "float16"}  # --groups / --dtype: grouped-query attention, bfloat16


def tolerance() -> float:
    """Largest accepted relative error vs fp32 SDPA: bfloat16 keeps 8 bits of mantissa, float16 11."""
    return 1e-2 if SETTINGS["dtype"] == "bfloat16" else 2e-3


def inputs(B, H, S, D):
    """Random q [B, S, H, D] and k, v [B, S, H / groups, D] in the benchmark's dtype."""
    dt, kv_heads = getattr(torch, SETTINGS["dtype"]), H // SETTINGS["groups"]
    return (torch.randn(B, S, H, D, device="cuda", dtype=dt),
            *(torch.randn(B, S, kv_heads, D, device="cuda", dtype=dt) for _ in range(2)))


def sdpa(q, k, v, causal):
    """torch SDPA on [B, H, S, D] tensors (K/V with fewer heads under grouped-query attention)."""
    if SETTINGS["groups"] > 1:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def sdpa_backend(q, k, v, causal) -> str:
    """The backend torch's SDPA dispatches to for these [B, H, S, D] inputs (FLASH_ATTENTION, CUDNN_ATTENTION,
    EFFICIENT_ATTENTION or MATH)."""
    try:
        from torch.nn.attention import SDPBackend

        choice = torch._fused_sdp_choice(q, k, v, None, 0.0, causal, enable_gqa=SETTINGS["groups"] > 1)
        return SDPBackend(choice).name
    except Exception as err:  # a private API: say so rather than guess
        return f"unknown ({type(err).__name__}: {err})"[:200]


def on_hopper_path(kernel) -> bool:
    """Whether ``kernel`` is the Hopper flash-attention kernel (not the generic lowering)."""
    return kernel.kernel_info.get("path") == "hopper_attention"


def attention_factory(B, H, S, D, causal, block_N=128, variant=None, groups=1, dtype="float16", block_M=128):
    """The example's program (2 * block_M threads) with a Hopper kernel variant (None: the default one); loads the
    example by path, so the autotuner's workers can rebuild it."""
    import importlib.util

    from tiledsl.passes.hopper.attention_match import VARIANT_ATTR

    spec = importlib.util.spec_from_file_location("bench_example_attention", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    prim = example.flash_attention.get_tir(B, H, S, D, causal, block_M=block_M, block_N=block_N, num_stages=2,
                                           threads=2 * block_M, groups=groups, dtype=dtype)
    return prim.with_attr(VARIANT_ATTR, variant) if variant else prim


def program(B, H, S, D, causal, bm=128, bn=128, variant=None):
    """The program with this run's --groups / --dtype."""
    return attention_factory(B, H, S, D, causal, block_N=bn, variant=variant, block_M=bm, **SETTINGS)


def sdpa_reference(Q, K, V, causal=False):
    """SDPA on [B, S, H, D] tensors (the autotuner passes them upcast to float32), K/V heads repeated."""
    groups = Q.shape[2] // K.shape[2]
    K, V = (x.repeat_interleave(groups, dim=2) for x in (K, V))
    return F.scaled_dot_product_attention(Q.transpose(1, 2), K.transpose(1, 2), V.transpose(1, 2),
                                          is_causal=causal).transpose(1, 2)


def tune(B, H, S, D, causal):
    """(config, tuning seconds, trials) picked by tiledsl's autotuner over the variants and block_N."""
    import functools

    variants = ("persistent", "tile", "persistent_nopp", "tile_nopp")
    space = [dict(variant=v, block_N=bn) for v in variants for bn in (128, 64)]
    t0 = time.perf_counter()
    tuner = tiledsl.AutoTuner.from_kernel(tiledsl.jit(out_idx=[-1])(attention_factory), configs=space)
    tuner.set_profile_args(warmup=5, rep=20, timeout=120, ref_prog=functools.partial(sdpa_reference, causal=causal))
    tuner.set_kernel_parameters((B, H, S, D, causal), dict(SETTINGS))
    result = tuner.run()
    trials = [{"config": t.config, "status": t.status, "latency_ms": t.latency} for t in result.trials]
    return result.config, round(time.perf_counter() - t0, 2), trials


def rel_error(kernel, q, k, v, causal, batches=None):
    """(relative error vs fp32 SDPA over the checked batches, all outputs finite) with a NaN-poisoned output."""
    out = torch.full_like(q, float("nan"))
    kernel(q, k, v, out)
    torch.cuda.synchronize()
    finite = bool(torch.isfinite(out).all())
    num = den = 0.0
    for b in (batches if batches is not None else range(q.shape[0])):
        ref = sdpa_reference(*(x[b:b + 1].float() for x in (q, k, v)), causal=causal)
        num += float((out[b:b + 1].float() - ref).norm() ** 2)
        den += float(ref.norm() ** 2)
    return (num / den) ** 0.5, finite


def check_small(report):
    for causal in (False, True):
        for B, H, S, D, bm, bn in SMALL:
            variants = [None] if causal else [None, "tile"]  # None: the default (persistent where it applies)
            for variant in variants:
                entry = {"shape": [B, H, S, D], "block": [bm, bn], "causal": causal, "variant": variant or "default"}
                try:
                    kernel = tiledsl.compile(program(B, H, S, D, causal, bm, bn, variant))
                    entry["specialized"] = on_hopper_path(kernel)
                    entry["kernel"] = kernel.kernel_info
                    q, k, v = inputs(B, H, S, D)
                    rel, finite = rel_error(kernel, q, k, v, causal)
                    ok = finite and rel < tolerance() and entry["specialized"]
                    entry.update(rel_err=rel, finite=finite, ok=bool(ok))
                except Exception as err:  # record and go on: one broken shape must not hide the others
                    entry.update(ok=False, error=f"{type(err).__name__}: {err}"[:2000])
                report["checks"].append(entry)
                print(json.dumps(entry), flush=True)


def bench(B, H, S, D, causal, variants, rounds, report, tuned=True):
    flops = 4 * B * H * S * S * D / (2 if causal else 1)
    programs = {variant: program(B, H, S, D, causal, variant=variant) for variant in variants}
    tuning = None
    if tuned:
        config, seconds, trials = tune(B, H, S, D, causal)
        tuning = {"config": config, "tuning_s": seconds, "trials": trials}
        programs["tuned"] = attention_factory(B, H, S, D, causal, **config, **SETTINGS)
        variants = [*variants, "tuned"]
    q, k, v = inputs(B, H, S, D)
    qt, kt, vt = (x.transpose(1, 2).contiguous() for x in (q, k, v))  # [B, H, S, D] for SDPA
    out = torch.empty_like(q)
    res = {"shape": [B, H, S, D], "causal": causal, "variants": {}, "tuning": tuning}
    fns = {"sdpa": lambda: sdpa(qt, kt, vt, causal)}
    res["sdpa_backend"] = sdpa_backend(qt, kt, vt, causal)
    for variant in variants:
        entry = {}
        try:
            t0 = time.perf_counter()
            kernel = tiledsl.compile(programs[variant])
            entry["compile_s"] = round(time.perf_counter() - t0, 2)
            entry["specialized"] = on_hopper_path(kernel)
            entry["kernel"] = kernel.kernel_info
            rel, finite = rel_error(kernel, q, k, v, causal, batches=[0, B - 1])
            entry.update(rel_err=rel, finite=finite)
            if finite and rel < tolerance() and entry["specialized"]:
                fns[variant] = (lambda kern: (lambda: kern(q, k, v, out)))(kernel)
        except Exception as err:
            entry["error"] = f"{type(err).__name__}: {err}"[:2000]
        res["variants"][variant] = entry
    sdpa_ref = sdpa(*(x[:1].float() for x in (qt, kt, vt)), causal)
    sdpa_half = sdpa(qt[:1], kt[:1], vt[:1], causal)
    res["sdpa_fp16_rel_err_batch0"] = float((sdpa_half.float() - sdpa_ref).norm() / sdpa_ref.norm())
    times = {name: [] for name in fns}
    for r in range(rounds):  # every function in every round; order fixed in round 0, then shuffled
        order = list(fns)
        if r:
            random.shuffle(order)
        for name in order:
            times[name].append(do_bench(fns[name], warmup=10, rep=30))
    res["sdpa_ms"] = [round(t, 4) for t in times["sdpa"]]
    res["sdpa_tflops_median"] = round(flops / (statistics.median(times["sdpa"]) * 1e-3) / 1e12, 1)
    for variant in variants:
        if variant not in times:
            continue
        ratios = [a / b for a, b in zip(times["sdpa"], times[variant])]
        e = res["variants"][variant]
        e["ms"] = [round(t, 4) for t in times[variant]]
        e["tflops_median"] = round(flops / (statistics.median(times[variant]) * 1e-3) / 1e12, 1)
        e["ratio_vs_sdpa_median"] = round(statistics.median(ratios), 3)
        e["ratios"] = [round(x, 3) for x in ratios]
    # re-check after timing: the outputs the timed runs wrote
    for variant in variants:
        if variant in fns:
            out.fill_(float("nan"))
            fns[variant]()
            torch.cuda.synchronize()
            num = den = 0.0
            for b in (0, B - 1):
                ref = sdpa(*(x[b:b + 1].float() for x in (qt, kt, vt)), causal).transpose(1, 2)
                num += float((out[b:b + 1].float() - ref).norm() ** 2)
                den += float(ref.norm() ** 2)
            res["variants"][variant]["rel_err_after_timing"] = (num / den) ** 0.5
            res["variants"][variant]["finite_after_timing"] = bool(torch.isfinite(out).all())
    report["results"].append(res)
    print(json.dumps(res), flush=True)


def smoke(spec):
    """One quick check of one variant ("tile", "persistent:causal", ...) on a small shape; prints SMOKE_OK/FAIL."""
    variant, _, flag = spec.partition(":")
    causal = flag == "causal"
    B, H, S, D = 2, 8, 512, 128
    kernel = tiledsl.compile(program(B, H, S, D, causal, variant=variant))
    q, k, v = inputs(B, H, S, D)
    rel, finite = rel_error(kernel, q, k, v, causal)
    ok = finite and rel < tolerance() and on_hopper_path(kernel)
    print(f"SMOKE_{'OK' if ok else 'FAIL'} {spec} rel_err={rel:.3e} finite={finite}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", default=None, help="check one variant quickly (VARIANT or VARIANT:causal)")
    ap.add_argument("--shape", default="8,32,4096,128")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--variants", default="tile,persistent", help="non-causal variants to time")
    ap.add_argument("--causal-variants", default="tile")
    ap.add_argument("--no-small", action="store_true")
    ap.add_argument("--small-only", action="store_true")
    ap.add_argument("--no-tune", action="store_true", help="time the named variants only, no autotuned entry")
    ap.add_argument("--groups", type=int, default=1, help="query heads per K/V head (grouped-query attention)")
    ap.add_argument("--dtype", default="float16", choices=["float16", "bfloat16"])
    args = ap.parse_args()
    os.environ["TILEDSL_HOPPER_SHORTCUT"] = "1"  # this benchmark times the hand-written kernel's variants
    SETTINGS.update(groups=args.groups, dtype=args.dtype)
    if args.smoke:
        return smoke(args.smoke)
    B, H, S, D = (int(x) for x in args.shape.split(","))
    report = {"device": torch.cuda.get_device_name(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "torch": torch.__version__, "settings": dict(SETTINGS), "checks": [], "results": []}
    out_dir = os.environ.get("OUT")

    def save():
        if out_dir:
            Path(out_dir, "bench_attention_hopper.json").write_text(json.dumps(report, indent=1))

    if not args.no_small:
        check_small(report)
        save()
    if args.small_only:
        return fail_on_wrong_results(report)
    for causal in (False, True):
        variants = [v for v in (args.causal_variants if causal else args.variants).split(",") if v]
        if not variants:
            continue
        try:
            bench(B, H, S, D, causal, variants, args.rounds, report, tuned=not args.no_tune)
        except Exception:
            report["results"].append({"causal": causal, "error": traceback.format_exc()[-3000:]})
        save()
    fail_on_wrong_results(report)


def fail_on_wrong_results(report):
    """Raise when a check failed or a timed kernel's output was wrong after timing."""
    wrong = [f"check {c['shape']} causal={c['causal']} {c['variant']}: " + (
        c.get("error") or f"rel_err {c.get('rel_err')}, finite {c.get('finite')}, Hopper path {c.get('specialized')}")
        for c in report["checks"] if not c.get("ok")]
    for res in report["results"]:
        for name, e in res.get("variants", {}).items():
            if "rel_err_after_timing" in e and not (e["finite_after_timing"] and
                                                    e["rel_err_after_timing"] < tolerance()):
                wrong.append(f"{res['shape']} causal={res['causal']} {name}: rel_err {e['rel_err_after_timing']}")
    if wrong:
        raise SystemExit("wrong results:\n" + "\n".join(wrong))


if __name__ == "__main__":
    main()
