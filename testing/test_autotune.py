"""End-to-end autotuner tests on the CPU target: failing candidates of every kind, cache hits across processes,
save/load, two processes tuning one key, a killed run resuming. Each test has its own TILEDSL_CACHE_DIR."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import tiledsl
from tiledsl.autotuner import records

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_autotune_helpers import BAD, GOOD, SIZE, matmul, ref_matmul  # noqa: E402


def _helper(args, cache, env_extra=None, wait=True):
    env = dict(os.environ, TILEDSL_CACHE_DIR=str(cache), PYTHONPATH=os.pathsep.join(
        [str(HERE.parent), str(HERE)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.update(env_extra or {})
    cmd = [sys.executable, str(HERE / "test_autotune_helpers.py")] + args
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _entries(cache: Path) -> list[Path]:
    root = cache / "autotune" / "results"
    return [p for p in root.glob("*/*") if p.is_dir() and not p.name.startswith(".")] if root.exists() else []


def test_tuner_survives_bad_candidates_and_picks_fastest_correct(cache_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pruned = {"block_M": 64, "block_N": 64}
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=GOOD + BAD,
                                          prune_fn=lambda cfg, *a: cfg == pruned)
    tuner.set_compile_args(target="llvm")
    tuner.set_profile_args(warmup=1, rep=3, timeout=8, ref_prog=ref_matmul, top_k=2, retime_rounds=2)
    tuner.set_kernel_parameters((SIZE, SIZE, SIZE))
    result = tuner.run()

    by_variant = {t.config.get("variant", "ok"): t for t in result.trials if "variant" in t.config}
    assert by_variant["bad_build"].status == records.BUILD_ERROR
    assert "T.gemm" in by_variant["bad_build"].reason and "shapes do not agree" in by_variant["bad_build"].reason
    assert by_variant["hang"].status == records.RUN_TIMEOUT and "8 s limit" in by_variant["hang"].reason
    assert by_variant["wrong"].status == records.WRONG_RESULT and "differs in" in by_variant["wrong"].reason
    assert by_variant["crash"].status == records.CRASH and "SIGSEGV" in by_variant["crash"].reason
    statuses = {json.dumps(t.config, sort_keys=True): t.status for t in result.trials}
    assert statuses[json.dumps(pruned, sort_keys=True)] == records.PRUNED

    ok = [t for t in result.trials if t.ok]
    assert len(ok) == 3
    assert result.config in [t.config for t in ok]
    # the winner is the fastest of the re-timed finalists, and the finalists were the fastest first timings
    finalists = [t for t in ok if t.retimed_latency is not None]
    assert len(finalists) == 2
    assert result.latency == min(t.retimed_latency for t in finalists)
    slowest_first = max(ok, key=lambda t: t.latency)
    assert slowest_first.retimed_latency is None

    a = torch.randn(SIZE, SIZE, dtype=torch.float16)
    b = torch.randn(SIZE, SIZE, dtype=torch.float16)
    torch.testing.assert_close(result.kernel(a, b).float(), a.float() @ b.float(), rtol=1e-2, atol=5e-2)
    assert result.kernel.config == result.config and result.ref_latency is not None

    # records live in the cache entry, one JSON line per candidate; nothing lands in the working directory
    entries = _entries(cache_dir)
    assert len(entries) == 1
    lines = (entries[0] / "trials.jsonl").read_text().splitlines()
    assert len(lines) == len(GOOD + BAD)
    assert {json.loads(ln)["status"] for ln in lines} >= {"ok", "build_error", "run_timeout", "crash"}
    assert list(tmp_path.iterdir()) == [cache_dir]

    # the same tuning again in this process: no work
    again = tuner.run()
    assert again is result  # the remembered result object itself: nothing was built or timed again

    # save / load round trip: readable JSON, the binary, no pickles; the loaded kernel runs
    saved = result.save_to_disk(tmp_path / "saved")
    assert json.loads((saved / "best_config.json").read_text()) == result.config
    assert (saved / "kernel" / "kernel.so").is_file() and (saved / "kernel" / "kernel_source.txt").is_file()
    assert not list(saved.rglob("*.pkl"))
    loaded = tiledsl.AutotuneResult.load_from_disk(saved)
    assert loaded.config == result.config and loaded.latency == result.latency
    assert [t.status for t in loaded.trials] == [t.status for t in result.trials]
    torch.testing.assert_close(loaded.kernel(a, b), result.kernel(a, b))
    # ... and in a fresh process that has never seen the factory
    code = ("import sys, torch, tiledsl; r = tiledsl.AutotuneResult.load_from_disk(sys.argv[1]); "
            "a = torch.ones(%d, %d, dtype=torch.float16); print(r.config, float(r.kernel(a, a)[0, 0]))" % (SIZE, SIZE))
    path = os.pathsep.join([str(HERE.parent), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
    out = subprocess.run([sys.executable, "-c", code, str(saved)], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=path), cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(f"{float(SIZE)}")


def test_two_processes_one_entry_then_fresh_process_hits(cache_dir, tmp_path):
    outs = [tmp_path / f"out{i}.json" for i in range(3)]
    procs = [_helper(["good", str(o)], cache_dir, wait=False) for o in outs[:2]]
    for p in procs:
        text = p.communicate(timeout=300)[0]
        assert p.returncode == 0, text.decode(errors="replace")
    first, second = (json.loads(o.read_text()) for o in outs[:2])
    assert first["key"] == second["key"] and first["config"] == second["config"]
    assert first["from_cache"] != second["from_cache"]  # one tuned, the other waited for it and read its entry
    assert len(_entries(cache_dir)) == 1
    assert not list((cache_dir / "autotune" / "results").glob(".staging/*"))

    _helper(["good", str(outs[2])], cache_dir)
    third = json.loads(outs[2].read_text())
    assert third["from_cache"] and third["config"] == first["config"] and third["max_err"] < 1e-2


def _trial_lines(cache: Path) -> int:
    files = list((cache / "autotune" / "trials").glob("*/*/trials.jsonl"))
    return sum(len(f.read_text().splitlines()) for f in files)


@pytest.mark.slow  # about 30 s (two tuning processes, one killed); resuming from records is also covered by
# test_autotune_faults.py's seeded records, which CI runs
def test_killed_run_resumes_from_recorded_trials(cache_dir, tmp_path):
    proc = _helper(["slow", str(tmp_path / "killed.json")], cache_dir, wait=False)
    deadline = time.monotonic() + 180
    while _trial_lines(cache_dir) < 1:
        assert proc.poll() is None, proc.communicate()[0].decode(errors="replace")
        assert time.monotonic() < deadline, "no trial was recorded in time"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    recorded = _trial_lines(cache_dir)
    assert 1 <= recorded < 4 and not _entries(cache_dir)

    out = tmp_path / "resumed.json"
    _helper(["slow", str(out)], cache_dir)
    data = json.loads(out.read_text())
    assert not data["from_cache"]
    assert sum(data["resumed"]) >= recorded >= 1
    assert sum(data["resumed"]) < 4 and all(s == "ok" for s in data["statuses"])
    assert len(_entries(cache_dir)) == 1


def test_a_result_tuned_with_other_lowering_switches_is_not_reused(cache_dir, monkeypatch):
    """The tuning key holds the lowering switches (``runtime.compiler.lowering_stamp``): a config tuned with
    ``TILEDSL_SPLIT_MASKS=0`` is not the answer with the default (on the device, a sweep with split-K off once
    returned the split-K winner from the cache, 0.88x where the untuned config ran 1.09x)."""
    def tune():
        tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=GOOD[:2])
        tuner.set_compile_args(target="llvm")
        tuner.set_profile_args(warmup=1, rep=2, timeout=30, ref_prog=ref_matmul, top_k=1, retime_rounds=1)
        tuner.set_kernel_parameters((SIZE, SIZE, SIZE))
        return tuner.run()

    monkeypatch.setenv("TILEDSL_SPLIT_MASKS", "0")
    first = tune()
    assert not first.from_cache and tune() is first  # same switches: the result of this process
    monkeypatch.delenv("TILEDSL_SPLIT_MASKS")
    other = tune()
    assert other is not first and not other.from_cache
    assert len(_entries(cache_dir)) == 2
