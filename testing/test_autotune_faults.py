"""Faults around a tuning run (CPU target): recorded trials that lie, workers that cannot start, odd paths, leftover
logs, a par_compile with no timeout, and what the error message says about resumed trials."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import tiledsl
from tiledsl.autotuner import parallel, records

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_autotune_helpers import SIZE, matmul, ref_matmul  # noqa: E402

A, B = {"block_M": 32, "block_N": 32}, {"block_M": 64, "block_N": 32}


@pytest.fixture
def cache_dir(cache_dir, monkeypatch):
    """conftest's private tuning cache, one compile worker, scratch under the cache."""
    monkeypatch.delenv("TILEDSL_TMP_DIR", raising=False)
    monkeypatch.setenv("TILEDSL_AUTO_TUNING_CPU_COUNTS", "1")
    return cache_dir


def _tuner(configs):
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=configs).set_compile_args(target="llvm")
    tuner.set_profile_args(warmup=1, rep=2, timeout=60, ref_prog=ref_matmul, top_k=2, retime_rounds=1)
    return tuner.set_kernel_parameters((SIZE, SIZE, SIZE))


def _trial_log(cache: Path) -> Path:
    (log,) = (cache / "autotune" / "trials").glob("*/*/trials.jsonl")
    return log


def _forget_results(cache: Path) -> None:
    shutil.rmtree(cache / "autotune" / "results", ignore_errors=True)
    tiledsl.AutoTuner._memory.clear()


def test_recorded_trials_are_rechecked_and_records_outside_the_cache_refused(cache_dir, tmp_path, caplog, capsys):
    first = _tuner([A, B]).run(quiet=True)
    assert [t.status for t in first.trials] == ["ok", "ok"]
    assert "tiledsl:" not in capsys.readouterr().err  # quiet: nothing on stderr
    # a kernel that computes the wrong thing, built into the cache like any other
    (wrong,) = matmul.par_compile([dict(M=SIZE, N=SIZE, K=SIZE, variant="wrong")], timeout=120)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(first.trials[1].artifact, elsewhere)
    # the records now lie: A's trial names the wrong kernel, B's a folder outside the kernel cache
    log = _trial_log(cache_dir)
    lines = [json.loads(ln) for ln in log.read_text().splitlines()]
    for line in lines:
        line["artifact"] = str(wrong.artifact_dir) if line["config"] == A else str(elsewhere)
        line["latency"] = 1e-6 if line["config"] == A else line["latency"]  # and claims to be the fastest
    log.write_text("".join(json.dumps(ln) + "\n" for ln in lines))
    _forget_results(cache_dir)

    with caplog.at_level(logging.WARNING, logger="tiledsl"):
        second = _tuner([A, B]).run(quiet=True)
    by_config = {json.dumps(t.config, sort_keys=True): t for t in second.trials}
    recheck = by_config[json.dumps(A, sort_keys=True)]
    assert recheck.status == records.WRONG_RESULT and "re-checking the recorded kernel" in recheck.reason
    rebuilt = by_config[json.dumps(B, sort_keys=True)]
    assert rebuilt.ok and not rebuilt.resumed and Path(rebuilt.artifact) != elsewhere
    assert second.config == B
    assert "cannot be trusted" in caplog.text and "is outside" in caplog.text
    a = torch.randn(SIZE, SIZE, dtype=torch.float16)
    torch.testing.assert_close(second.kernel(a, a).float(), a.float() @ a.float(), rtol=1e-2, atol=5e-2)


def test_failure_message_says_trials_were_resumed_and_how_to_retune(cache_dir):
    configs = [{"variant": "bad_build"}]
    with pytest.raises(tiledsl.AutotuneError) as first:
        _tuner(configs).run(quiet=True)
    assert "earlier run" not in str(first.value)
    with pytest.raises(tiledsl.AutotuneError) as second:
        _tuner(configs).run(quiet=True)
    msg = str(second.value)
    assert "recorded by an earlier run" in msg and "TILEDSL_AUTO_TUNING_FORCE_RETUNE=1" in msg


def _launcher(path: Path, fail_first: bool) -> str:
    """A stand-in for the Python executable that fails to start a worker (once, or always), then runs Python."""
    marker = path.with_suffix(".started")
    body = f'[ -e "{marker}" ] || {{ touch "{marker}"; exit 1; }}\n' if fail_first else "exit 1\n"
    path.write_text(f"#!/bin/sh\n{body}exec {sys.executable} \"$@\"\n")
    path.chmod(0o755)
    return str(path)


def test_a_worker_that_cannot_start_is_retried_then_never_recorded(cache_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", _launcher(tmp_path / "python-once", fail_first=True))
    result = _tuner([A]).run(quiet=True)  # the first builder start fails; the second works
    assert [t.status for t in result.trials] == ["ok"]
    _forget_results(cache_dir)
    shutil.rmtree(cache_dir / "autotune" / "trials")

    monkeypatch.setattr(sys, "executable", _launcher(tmp_path / "python-never", fail_first=False))
    with pytest.raises(tiledsl.AutotuneError, match="infra_error") as info:
        _tuner([A, B]).run(quiet=True)
    assert "could not start" in str(info.value)
    logs = list((cache_dir / "autotune" / "trials").glob("*/*/trials.jsonl"))
    assert all(not f.read_text().strip() for f in logs)  # the machine's failure is not the candidates'

    monkeypatch.undo()
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("TILEDSL_AUTO_TUNING_CPU_COUNTS", "1")
    again = _tuner([A, B]).run(quiet=True)
    assert [t.status for t in again.trials] == ["ok", "ok"] and not any(t.resumed for t in again.trials)


def test_semicolon_in_the_scratch_path_and_worker_logs_are_removed(cache_dir, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch;with;semicolons"
    monkeypatch.setenv("TILEDSL_TMP_DIR", str(scratch))
    monkeypatch.setenv("TILEDSL_AUTO_TUNING_CPU_COUNTS", "2")  # two builders: the log list travels to a fork server
    logs = scratch / "workers"
    logs.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = logs / f"builder0-p{dead.pid}-abc123.log"  # left by a run killed with SIGKILL
    stale.write_text("old")
    mine = logs / f"builder0-p{os.getpid()}-live.log"  # a live process's log stays
    mine.write_text("live")
    kernels = matmul.par_compile([dict(M=64, N=64, K=64, block_M=32), dict(M=64, N=64, K=64, block_M=64)],
                                 timeout=120)
    a = torch.randn(64, 64, dtype=torch.float16)
    for k in kernels:
        torch.testing.assert_close(k(a, a).float(), a.float() @ a.float(), rtol=1e-2, atol=5e-2)
    assert sorted(p.name for p in logs.iterdir()) == [mine.name]


@pytest.mark.slow  # about 15 s: waits out a compile limit
def test_par_compile_without_timeout_has_a_limit(cache_dir, monkeypatch):
    monkeypatch.setattr(parallel, "DEFAULT_TIMEOUT", 3.0)
    kernels = matmul.par_compile([dict(M=64, N=64, K=64, variant="slow_build"), dict(M=64, N=64, K=64)],
                                 ignore_error=True)
    assert kernels[0] is None and kernels[1] is not None
    with pytest.raises(tiledsl.CompileTimeoutError, match="3 s limit"):
        matmul.par_compile([dict(M=64, N=64, K=64, variant="slow_build")])
    with pytest.raises(tiledsl.ConfigError, match="timeout"):
        matmul.par_compile([dict(M=64, N=64, K=64)], timeout=-1)
