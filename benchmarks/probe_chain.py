"""Which variants of the persistent gemm chain hang or compute wrong sums on the GPU (issue 9's hang of
2026-12-06): each variant runs in its own process under a time limit, several launches, against a float64
reference in which key blocks past K's rows count as zero (TMA fills out-of-bounds rows with zeros).

    python benchmarks/probe_chain.py [VARIANT...]   # one JSON line each: ok / wrong (max error) / hang / error

The variants change one thing at a time from the shape that hung (W loaded in the loop, a first tile with no
iteration, 2 stages, 3 persistent CTAs, loops as long as the tile's index): K's rows (512: the last tiles' key
blocks lie wholly past them; 768: none do), the stages, the grid (one CTA per tile), W before the loop.
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = {
    "oob_s2_persistent": dict(L=512, stages=2),
    "inb_s2_persistent": dict(L=768, stages=2),
    "oob_s3_persistent": dict(L=512, stages=3),
    "inb_s3_persistent": dict(L=768, stages=3),
    "oob_s2_one_cta_per_tile": dict(L=512, stages=2, env={"TILEDSL_PERSISTENT": "0"}),
    "inb_s2_one_cta_per_tile": dict(L=768, stages=2, env={"TILEDSL_PERSISTENT": "0"}),
    "oob_s2_w_before": dict(L=512, stages=2, w_before=True),
    "oob_s2_even": dict(L=512, stages=2, grow=False),
    "inb_s2_persistent_no_empty_tile": dict(L=768, stages=2, first=1),
    "inb_s2_persistent_not_deferred": dict(L=768, stages=2, env={"TILEDSL_DEFER_LAST_GEMM": "0"}),
    "inb_s2_persistent_even_tiles_uneven_ring": dict(L=768, stages=2, grow=False),
}


def _environment(variant):
    env = dict(os.environ, TILEDSL_PERSISTENT="3", TILEDSL_PERSISTENT_UNEVEN="1", TILEDSL_DISABLE_HOPPER_GEMM="1")
    env.update(VARIANTS[variant].get("env", {}))
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(HERE, "..", "testing"), env.get("PYTHONPATH", "")])
    return env


def _program(variant):
    from test_persistent_general import weighted_chain
    v = VARIANTS[variant]
    return weighted_chain(1536, v["L"], 64, 128, stages=v["stages"], grow=v.get("grow", True),
                          w_before=v.get("w_before", False), first=v.get("first", 0))


def _one(variant, mode):
    """In the child: build (``mode == "build"``) or build and run several launches; prints one JSON line."""
    import torch
    import tiledsl
    from test_persistent_general import chain_reference
    kernel = tiledsl.compile(_program(variant), out_idx=[], target="cuda")
    if mode == "build":
        print(json.dumps({"pipelines": kernel.kernel_info.get("pipelines")}))
        return
    v = VARIANTS[variant]
    M, L, D, N, bm, bn = 1536, v["L"], 64, 128, 128, 64
    grow = v.get("grow", True)
    worst = 0.0
    for seed in range(5):
        torch.manual_seed(seed)
        a, k, w = (torch.randn(*s, device="cuda").half() for s in ((M, D), (L, D), (bn, N)))
        out = torch.full((M, N), float("nan"), device="cuda")
        kernel(a, k, w, out)
        torch.cuda.synchronize()
        want = chain_reference(a, k, w, bm, bn, grow, v.get("first", 0))
        worst = max(worst, float((out.double() - want).abs().nan_to_num(float("inf")).max()))
    print(json.dumps({"pipelines": kernel.kernel_info.get("pipelines"), "max_err": worst}))


def _child(variant, mode, limit):
    start = time.time()
    try:
        done = subprocess.run([sys.executable, __file__, "--one", variant, mode], env=_environment(variant),
                              capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return {"variant": variant, "result": "hang", "seconds": round(time.time() - start, 1)}
    lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
    if done.returncode or not lines:
        return {"variant": variant, "result": "error", "detail": done.stderr[-600:]}
    row = json.loads(lines[-1])
    row.update(variant=variant, seconds=round(time.time() - start, 1))
    if mode == "run":
        row["result"] = "ok" if row["max_err"] < 0.05 else "wrong"
    return row


def main():
    """Build every variant in parallel (the kernel cache keeps them), then run each alone under a time limit."""
    from concurrent.futures import ThreadPoolExecutor
    chosen = sys.argv[1:] or list(VARIANTS)
    with ThreadPoolExecutor(8) as pool:
        for row in pool.map(lambda v: _child(v, "build", 300), chosen):
            print(json.dumps(row), flush=True)
    for variant in chosen:
        print(json.dumps(_child(variant, "run", 45)), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        _one(sys.argv[2], sys.argv[3])
    else:
        main()
