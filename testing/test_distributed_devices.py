"""Several local benchmark devices (one runner process each, CPU "devices" here) and contextual tuning in one
process. The distributed (several ranks) tests are in test_distributed.py."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

import tiledsl
from tiledsl.autotuner import records
from tiledsl.autotuner.devices import expand_devices

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import dist_tune_worker as w  # noqa: E402
from test_autotune_helpers import GOOD, SIZE, matmul, ref_matmul  # noqa: E402


def test_expand_devices():
    assert expand_devices(3, "llvm") == ["cpu"] * 3
    assert expand_devices("all", "llvm") == ["cpu"]
    assert expand_devices([0, 1], "cuda") == [0, 1]
    with pytest.raises(tiledsl.ConfigError, match="at least 1"):
        expand_devices(0, "llvm")


@pytest.mark.slow  # about 30 s: a candidate that hangs until its timeout; one runner's isolation is also in test_autotune.py
def test_two_runners_a_hang_on_one_costs_one_candidate(cache_dir, monkeypatch):
    monkeypatch.setenv("TILEDSL_AUTO_TUNING_CPU_COUNTS", "1")  # built in order: the hang reaches a runner first
    configs = [{"variant": "hang"}, {"variant": "crash"}] + GOOD[:3]
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=configs).set_compile_args(target="llvm")
    tuner.set_profile_args(warmup=1, rep=3, timeout=15, ref_prog=ref_matmul, top_k=2, retime_rounds=1)
    tuner.set_kernel_parameters((SIZE, SIZE, SIZE))
    result = tuner.run(benchmark_devices=2)  # two runner processes on the CPU

    by = {json.dumps(t.config, sort_keys=True): t for t in result.trials}
    hang = by[json.dumps({"variant": "hang"})]
    crash = by[json.dumps({"variant": "crash"})]
    assert hang.status == records.RUN_TIMEOUT and crash.status == records.CRASH
    good = [t for t in result.trials if t.ok]
    assert len(good) == 3 and result.config in [t.config for t in good]
    # while the hang held one runner, the other measured candidates (one runner would have waited 15 s first)
    assert min(t.time for t in good) < hang.time
    a, b = torch.randn(SIZE, SIZE, dtype=torch.float16), torch.randn(SIZE, SIZE, dtype=torch.float16)
    torch.testing.assert_close(result.kernel(a, b).double(), a.double() @ b.double(), rtol=1e-2, atol=5e-2)


def test_contextual_tuning_in_one_process(cache_dir):
    @tiledsl.contextual_autotune(n_warmup=1, n_repeat=2)
    def twice(a, b, out):
        c = w.ctx_matmul(w.SIZE, w.SIZE, w.SIZE, dtype="float32")(a, b)
        w.add_into(w.SIZE, w.SIZE)(c, out)  # in place, twice per run
        w.add_into(w.SIZE, w.SIZE)(c, out)
        return out

    a, b = torch.randn(w.SIZE, w.SIZE), torch.randn(w.SIZE, w.SIZE)
    out = torch.full((w.SIZE, w.SIZE), 1.0)
    expected = 1.0 + 2 * (a.double() @ b.double())
    got = twice(a, b, out)
    assert got is out
    torch.testing.assert_close(got.double(), expected, rtol=1e-4, atol=1e-3)  # restored before the returned run
    assert len(twice.results) == 2
    gemm = next(v for k, v in twice.results.items() if k.startswith("gemm"))
    assert [t["status"] for t in gemm["trials"]][:2] == ["ok", "ok"]
    assert gemm["trials"][2]["status"].startswith("wrong_result") and gemm["config"] != {"wrong": 1}
    again = torch.zeros(w.SIZE, w.SIZE)
    torch.testing.assert_close(twice(a, b, again).double(), expected - 1.0, rtol=1e-4, atol=1e-3)
    with pytest.raises(tiledsl.ConfigError, match="n_repeat"):
        tiledsl.contextual_autotune(n_repeat=0)(lambda: None)


@pytest.mark.gpu
def test_all_gpus_each_with_a_runner(cache_dir):
    cuda_matmul = tiledsl.jit(out_idx=[-1], target="cuda")(matmul.func)
    tuner = tiledsl.AutoTuner.from_kernel(cuda_matmul, configs=GOOD)
    tuner.set_profile_args(warmup=2, rep=10, timeout=30, ref_prog=ref_matmul, top_k=2, retime_rounds=2)
    tuner.set_kernel_parameters((SIZE, SIZE, SIZE))
    result = tuner.run(benchmark_devices="all")
    assert {t.device for t in result.trials if t.ok} <= {f"cuda:{i}" for i in range(torch.cuda.device_count())}
    assert sum(t.ok for t in result.trials) == len(GOOD)
    a = torch.randn(SIZE, SIZE, dtype=torch.float16, device="cuda")
    b = torch.randn(SIZE, SIZE, dtype=torch.float16, device="cuda")
    torch.testing.assert_close(result.kernel(a, b).double(), a.double() @ b.double(), rtol=1e-2, atol=5e-2)


@pytest.mark.gpu
def test_contextual_tuning_on_the_gpu(cache_dir):
    gemm = tiledsl.autotune(configs=[dict(block_M=32, block_N=32), dict(block_M=64, block_N=64), dict(wrong=1)],
                            ref_prog=w.ref_matmul)(tiledsl.jit(out_idx=[-1], target="cuda")(w.gemm))
    add = tiledsl.autotune(configs=[dict(block=16), dict(block=32)])(
        tiledsl.jit(target="cuda")(w.add_into_factory))

    @tiledsl.contextual_autotune(n_warmup=2, n_repeat=5)
    def fn(a, b, out):
        add(w.SIZE, w.SIZE, dtype="float16")(gemm(w.SIZE, w.SIZE, w.SIZE, dtype="float16")(a, b), out)
        return out

    a = torch.randn(w.SIZE, w.SIZE, device="cuda", dtype=torch.float16)
    b = torch.randn(w.SIZE, w.SIZE, device="cuda", dtype=torch.float16)
    out = torch.zeros(w.SIZE, w.SIZE, device="cuda", dtype=torch.float16)  # an accumulator: Y += X
    got = fn(a, b, out)
    torch.testing.assert_close(got.double(), a.double() @ b.double(), rtol=1e-2, atol=5e-2)
    g = next(v for k, v in fn.results.items() if k.startswith("gemm"))
    assert g["trials"][2]["status"].startswith("wrong_result") and g["latency_ms"] > 0
