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


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("TILEDSL_AUTO_TUNING_FORCE_RETUNE", "TILEDSL_AUTOTUNE", "TILEDSL_TUNED_CONFIGS"):
        monkeypatch.delenv(name, raising=False)
    tiledsl.AutoTuner._memory.clear()
    return tmp_path / "cache"


def _jit():
    return tiledsl.jit(out_idx=[-1], target="llvm")(accumulate_factory)


def test_reset_to_zero_alone_leaves_the_in_place_update_to_corrupt_later_candidates(cache_dir):
    tuner = tiledsl.AutoTuner.from_kernel(_jit(), configs=CONFIGS)
    tuner.set_profile_args(reset_to_zero="C", **PROFILE).set_kernel_parameters((SIZE,))
    result = tuner.run()
    statuses = [t.status for t in result.trials]
    # the first candidate's check sees the inputs untouched (C zeroed: its accumulation is right); it then ran
    # several more times for its timing, each adding 1 to X: the next candidates start from a corrupted X
    assert statuses == [records.OK, records.WRONG_RESULT, records.WRONG_RESULT]
    assert "differs in" in result.trials[1].reason and result.config == CONFIGS[0]


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
