"""Function-level tuning (``tiledsl.tune.autotune``) on a Python function that launches tiledsl CPU kernels: the
fastest config wins, a failing config is recorded and skipped, the JSON cache (with hardware and versions) serves
a fresh tuner, ``autotune=False`` / ``autotune_verbose=True`` per call."""
from __future__ import annotations

import json

import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.tune import function_tuner

M, N = 64, 32


@tiledsl.jit(out_idx=[-1], target="llvm")
def scale_add(M, N, block_M=16, threads=16, dtype="float32"):
    @T.prim_func
    def kernel(A: T.Tensor((M, N), dtype), B: T.Tensor((M, N), dtype), C: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(M, block_M), threads=threads) as bx:
            for i, j in T.Parallel(block_M, N):
                C[bx * block_M + i, j] = A[bx * block_M + i, j] * 2.0 + B[bx * block_M + i, j]
    return kernel


def two_step(a, b, config):
    """Two kernel launches per call: ``(2a + b)`` then ``2(2a + b) + b``, repeated ``passes`` times (a config that
    does more work than needed is slower but still right); ``block_M=0`` fails."""
    kernel = scale_add(a.shape[0], a.shape[1], block_M=config["block_M"])
    out = None
    for _ in range(config["passes"]):
        out = kernel(kernel(a, b), b)
    return out


SPACE = [{"block_M": 16, "passes": 40}, {"block_M": 0, "passes": 1}, {"block_M": 32, "passes": 1},
         {"block_M": 64, "passes": 1}]


def _tuned(**extra):
    kwargs = dict(config_space=SPACE, key_fn=lambda a, b: (tuple(a.shape), str(a.dtype)),
                  prune_fn=lambda cfg, a, b: cfg["block_M"] > a.shape[0] // 2, warmup=1, rep=3)
    kwargs.update(extra)
    return tiledsl.tune.autotune(**kwargs)(two_step)


def test_function_tuning_picks_fastest_working_config_and_caches_it(cache_dir, capfd):
    fn = _tuned()
    a, b = torch.randn(M, N), torch.randn(M, N)
    out = fn(a, b, autotune_verbose=True)
    torch.testing.assert_close(out, 2 * (2 * a + b) + b)
    assert fn.stats == {"tuned": 1, "cache": 0, "default": 0}
    err = capfd.readouterr().err
    assert "[tiledsl autotune] two_step" in err and "run_error" in err and "pruned" in err
    assert "best config {'block_M': 32, 'passes': 1}" in err

    files = list((cache_dir / "autotune" / "functions").rglob("*.json"))
    assert len(files) == 1
    data = json.loads(files[0].read_text())
    assert data["config"] == {"block_M": 32, "passes": 1}
    assert data["hardware"] == function_tuner.hardware() and data["versions"] == function_tuner.versions()
    assert [f[1] for f in data["failures"]] == ["run_error", "pruned"]
    assert data["failures"][0][2].startswith("TileProgramError") and "Divide by zero" in data["failures"][0][2]
    assert [t[1] for t in data["timings"]][-1] == {"block_M": 16, "passes": 40}  # the slow one came last

    fresh = _tuned()  # a new tuner of the same function: the file answers, nothing is timed
    torch.testing.assert_close(fresh(a, b), out)
    assert fresh.stats == {"tuned": 0, "cache": 1, "default": 0}
    assert capfd.readouterr().err == ""


def test_function_tuning_switch_and_explicit_config(cache_dir):
    fn = _tuned(default_config={"block_M": 64, "passes": 1})
    a, b = torch.randn(M, N), torch.randn(M, N)
    torch.testing.assert_close(fn(a, b, autotune=False), 2 * (2 * a + b) + b)
    tiledsl.disable_autotune()
    torch.testing.assert_close(fn(a, b), 2 * (2 * a + b) + b)
    assert fn.stats == {"tuned": 0, "cache": 0, "default": 2}
    assert not (cache_dir / "autotune" / "functions").exists()
    torch.testing.assert_close(fn(a, b, config={"block_M": 16, "passes": 1}), 2 * (2 * a + b) + b)
    only_failing = _tuned(prune_fn=lambda cfg, a, b: cfg["block_M"] != 0)
    with pytest.raises(tiledsl.AutotuneError, match="none of the 4 configs ran"):
        only_failing(a, b, autotune=True)


def test_function_tuning_user_mistakes():
    with pytest.raises(tiledsl.ConfigError, match="non-empty list"):
        tiledsl.tune.autotune(config_space={"block_M": 16})
    with pytest.raises(tiledsl.ConfigError, match="must take a config= argument"):
        tiledsl.tune.autotune(config_space=SPACE)(lambda a, b: a)
    with pytest.raises(tiledsl.ConfigError, match="rep=0"):
        tiledsl.tune.autotune(config_space=SPACE, rep=0)
