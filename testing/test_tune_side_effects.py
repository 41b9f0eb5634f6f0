"""reset_to_zero / restore_value on the CPU: a kernel that accumulates into C and updates X in place is checked
and timed correctly only when C is zeroed and X restored before every launch (the candidates share cached inputs,
so a candidate that leaves X changed corrupts the next one's check)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import tiledsl
from tiledsl.autotuner import records, side_effects

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_tune_helpers import accumulate_factory, ref_accumulate  # noqa: E402

SIZE = 64
CONFIGS = [{"block": 16}, {"block": 32}, {"block": 64}]
PROFILE = dict(warmup=1, rep=3, timeout=60, ref_prog=ref_accumulate, cache_input_tensors=True, top_k=1)


def _jit():
    return tiledsl.jit(out_idx=[-1], target="llvm")(accumulate_factory)


def _bench_in_process(artifacts, **hooks) -> list[str]:
    """The runner's own request handler (what runs in the benchmark worker), here in the test process: each
    candidate checked and timed in turn on one cached set of inputs, as in a tuning run."""
    from tiledsl.autotuner.runner import RunHandler
    from tiledsl.profiler import TensorSupplyType

    payload = dict(device="cpu", supply_type=TensorSupplyType.Auto, supply_prog=None, inputs=None,
                   ref_prog=ref_accumulate, manual_check_prog=None, skip_check=False, rtol=1e-2, atol=1e-2,
                   max_mismatched_ratio=0.0, cache_input_tensors=True, warmup=1, rep=3, backend="wall",
                   reset_to_zero=[], restore_value=[])
    payload.update(hooks)
    handler = RunHandler(payload)
    statuses = [handler.handle({"op": "bench", "artifact": str(a)})["status"] for a in artifacts]
    assert handler.handle({"op": "retime", "artifacts": [str(a) for a in artifacts], "rounds": 2})["status"] == "ok"
    statuses.append(handler.handle({"op": "bench", "artifact": str(artifacts[0])})["status"])  # after re-timing
    return statuses


def test_runner_zeroes_and_restores_named_tensors(cache_dir):
    jit = _jit()
    artifacts = [jit(SIZE, **cfg).artifact_dir for cfg in CONFIGS]
    ok, wrong = records.OK, records.WRONG_RESULT
    # C starts random: the accumulation is wrong for everyone
    assert _bench_in_process(artifacts) == [wrong] * 4
    # C zeroed: the first candidate passes, then its timing runs added 1 to X many times, so every later check
    # (and the first candidate's own after the re-timing) starts from a corrupted X
    assert _bench_in_process(artifacts, reset_to_zero=["C"]) == [ok, wrong, wrong, wrong]
    assert _bench_in_process(artifacts, reset_to_zero=["C"], restore_value=["X"]) == [ok] * 4


def test_reset_to_zero_and_restore_value_let_every_candidate_pass(cache_dir):
    fused = tiledsl.autotune(configs=CONFIGS, reset_to_zero=["C"], restore_value=["X"], **PROFILE)(_jit())
    kernel = fused(SIZE)
    result = fused.tune(SIZE)
    assert [t.status for t in result.trials] == [records.OK] * 3 and kernel.config in CONFIGS
    a, x, c = torch.randn(SIZE), torch.randn(SIZE), torch.zeros(SIZE)
    x0 = x.clone()
    y = kernel(a, x, c)
    torch.testing.assert_close(y, a + x0)
    torch.testing.assert_close(x, x0 + 1)
    torch.testing.assert_close(c, a)


def test_side_effect_names_are_checked():
    kernel = _jit()(SIZE)
    tensors = {p.name: torch.zeros(SIZE) for p in kernel.params}
    with pytest.raises(ValueError, match="'Z', which is not a tensor parameter of the kernel \\(A, X, C, Y\\)"):
        side_effects.wrap(kernel, lambda: None, tensors, ["Z"], [])
    with pytest.raises(tiledsl.ConfigError, match="reset_to_zero=5 must be a list of kernel parameter names"):
        tiledsl.autotune(configs=CONFIGS, reset_to_zero=5)
    # the hooks themselves: zero before the launch, restore the first value before and after
    calls = []
    run, finish = side_effects.wrap(kernel, lambda: calls.append((tensors["C"].sum().item(),
                                                                  tensors["X"].sum().item())),
                                    tensors, ["C"], ["X"])
    tensors["X"].fill_(2.0)  # changed after the snapshot: restored before the launch
    tensors["C"].fill_(5.0)
    run()
    assert calls == [(0.0, 0.0)]
    tensors["X"].fill_(3.0)
    finish()
    assert float(tensors["X"].sum()) == 0.0
