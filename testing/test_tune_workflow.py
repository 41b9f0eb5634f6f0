"""tiledsl.tune end to end on the CPU: ``python -m tiledsl.tune`` tunes a small shape list once per bucket and
writes the shipped file; a fresh process sweeps M with that file and tunes nothing; in this process the bucket
cache on disk, the switch (disabled: cached or default configs; enabled again: one tuning per bucket), warm-up,
the nearest bucket and the WARNING for a file of another device or version. One tuned cache is shared by the
module (two tunings in the command-line run, one more when tuning is switched back on)."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import tiledsl
from tiledsl.tune import cli, shipped

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import test_tune_helpers as helpers  # noqa: E402

SHAPES = [{"M": m, "N": helpers.N, "K": helpers.K} for m in (1, 7, 16, 17, 32)]  # buckets M=16 and M=32


def _env(cache: Path, **extra) -> dict:
    path = os.pathsep.join([str(HERE.parent), str(HERE)] + [p for p in os.environ.get("PYTHONPATH", "").split(
        os.pathsep) if p])
    env = dict(os.environ, TILEDSL_CACHE_DIR=str(cache), PYTHONPATH=path)
    for name in ("TILEDSL_AUTOTUNE", "TILEDSL_TUNED_CONFIGS", "TILEDSL_AUTO_TUNING_FORCE_RETUNE",
                 "TILEDSL_AUTO_TUNING_DISABLE_CACHE", "TILEDSL_DISABLE_CACHE"):
        env.pop(name, None)
    env.update(extra)
    return env


def _result_entries(cache: Path) -> int:
    root = cache / "autotune" / "results"
    return len([p for p in root.glob("*/*") if p.is_dir()]) if root.exists() else 0


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """Run the command line once: a cache folder and the shipped folder it wrote."""
    base = tmp_path_factory.mktemp("tune-workflow")
    cache, out = base / "cache", base / "shipped"
    shapes = base / "shapes.json"
    shapes.write_text(json.dumps(SHAPES))
    proc = subprocess.run([sys.executable, "-m", "tiledsl.tune", "test_tune_helpers:matmul", "--shapes", str(shapes),
                           "--out", str(out)], env=_env(cache), capture_output=True, text=True, timeout=400,
                          cwd=str(HERE))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"cache": cache, "out": out, "shapes": shapes, "summary": json.loads(proc.stdout.strip().splitlines()[-1]),
            "base": base}


@pytest.fixture
def in_cache(tuned, monkeypatch):
    """This process uses the command line's cache, with tuning on and no shipped folder unless a test sets one."""
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(tuned["cache"]))
    for name in ("TILEDSL_AUTOTUNE", "TILEDSL_TUNED_CONFIGS", "TILEDSL_AUTO_TUNING_FORCE_RETUNE",
                 "TILEDSL_PRINT_AUTOTUNING"):
        monkeypatch.delenv(name, raising=False)
    tiledsl.AutoTuner._memory.clear()
    tiledsl.tune.reset_autotune_switch()
    yield tuned
    tiledsl.tune.reset_autotune_switch()


def test_cli_tunes_once_per_bucket_and_writes_the_shipped_file(tuned):
    assert tuned["summary"]["tuned"] == 2 and tuned["summary"]["buckets"] == 2
    assert _result_entries(tuned["cache"]) == 2  # two tuning runs for five shapes
    files = list(tuned["out"].glob("*/*.json"))
    assert len(files) == 1 and files[0].name == "gemm_factory.json"
    assert files[0].parent.name == shipped.device_name("llvm")
    data = json.loads(files[0].read_text())
    assert data["versions"] == shipped.software_versions("llvm") and data["device"] == files[0].parent.name
    assert sorted(e["bucket"][0] for e in data["buckets"]) == [16, 32]
    assert {e["shape"]["M"] for e in data["buckets"]} == {1, 17}  # the first shape of each bucket was tuned
    for e in data["buckets"]:
        assert e["config"] in helpers.CONFIGS and e["latency_ms"] > 0
    assert data["default"] in [e["config"] for e in data["buckets"]]


def test_fresh_process_with_the_shipped_file_tunes_nothing(tuned, tmp_path):
    cache = tmp_path / "empty-cache"
    proc = subprocess.run([sys.executable, str(HERE / "test_tune_helpers.py"), "1", "40", "6"],
                          env=_env(cache, TILEDSL_TUNED_CONFIGS=str(tuned["out"])), capture_output=True, text=True,
                          timeout=400, cwd=str(HERE))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "tuned" not in report["stats"] and _result_entries(cache) == 0
    assert report["stats"] == {"shipped": 2, "nearest": 1}  # M = 37 is bucket 64: the nearest tuned is 32
    assert report["max_err"] < 0.05
    data = json.loads(next(tuned["out"].glob("*/*.json")).read_text())
    by_bucket = {e["bucket"][0]: e["config"] for e in data["buckets"]}
    assert report["configs"]["7"] == by_bucket[16] and report["configs"]["19"] == by_bucket[32]
    assert report["configs"]["37"] == by_bucket[32]


def test_cli_resumes_and_warmup_fills_the_caches(in_cache, capsys):
    summary = tiledsl.tune.tune_shapes(helpers.make_matmul(), SHAPES, in_cache["out"], progress=False)
    assert summary["tuned"] == 0 and summary["resumed"] == 2
    assert cli.main(["warmup", "test_tune_helpers:matmul", "--shapes", str(in_cache["shapes"])]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["compiled"] == len(SHAPES) and "tuned" not in out["stats"]  # every bucket is in the disk cache
    assert _result_entries(in_cache["cache"]) == 2


def test_cli_reports_user_mistakes(in_cache, tmp_path, capsys):
    shapes = tmp_path / "s.json"
    shapes.write_text(json.dumps({"M": 1}))
    assert cli.main(["test_tune_helpers:matmul", "--shapes", str(shapes), "--out", str(tmp_path)]) == 2
    assert "shapes must be a list of argument dicts" in capsys.readouterr().err
    assert cli.main(["test_tune_helpers:nothing", "--shapes", str(shapes), "--out", str(tmp_path)]) == 2
    assert "has no attribute 'nothing'" in capsys.readouterr().err
    assert cli.main(["test_tune_helpers:ref_matmul", "--shapes", str(in_cache["shapes"]), "--out",
                     str(tmp_path)]) == 2
    assert "@tiledsl.autotune" in capsys.readouterr().err


def test_switch_default_config_then_one_tuning_per_bucket(in_cache, monkeypatch, capfd):
    matmul = helpers.make_matmul(default_config={"block_M": 32})
    tiledsl.disable_autotune()
    assert not tiledsl.is_autotune_enabled()
    assert helpers.check_kernel(matmul(5, helpers.N, helpers.K), 5) < 0.05  # bucket 16: tuned by the CLI run
    kernel = matmul(50, helpers.N, helpers.K)  # bucket 64: never tuned
    assert kernel.config == {"block_M": 32} and helpers.check_kernel(kernel, 50) < 0.05
    assert matmul.stats == {"cache": 1, "default": 1} and _result_entries(in_cache["cache"]) == 2

    monkeypatch.setenv("TILEDSL_PRINT_AUTOTUNING", "1")
    tiledsl.enable_autotune()
    for m in range(33, 65, 10):  # a decode-like sweep of bucket 64: one tuning
        assert helpers.check_kernel(matmul(m, helpers.N, helpers.K), m) < 0.05
    assert matmul.stats == {"cache": 1, "default": 1, "tuned": 1} and _result_entries(in_cache["cache"]) == 3
    err = capfd.readouterr().err
    assert "[tiledsl autotune] gemm_factory bucket [64,32,32]" in err and "best config" in err
    assert all(str(c) in err for c in helpers.CONFIGS)

    again = helpers.make_matmul()  # a new factory object: the bucket comes from the disk cache
    tiledsl.AutoTuner._memory.clear()
    assert again(60, helpers.N, helpers.K).config == matmul(40, helpers.N, helpers.K).config
    assert again.stats == {"cache": 1}


def test_env_switch_and_warmup_without_tuning(in_cache, monkeypatch):
    monkeypatch.setenv("TILEDSL_AUTOTUNE", "0")
    assert not tiledsl.is_autotune_enabled()
    matmul = helpers.make_matmul()
    before = _result_entries(in_cache["cache"])
    kernels = tiledsl.warmup(matmul, [{"M": 200, "N": helpers.N, "K": helpers.K}], tune=False)
    assert kernels[0].config == helpers.CONFIGS[0]  # no default_config: the first config
    assert matmul.stats == {"default": 1} and _result_entries(in_cache["cache"]) == before
    monkeypatch.setenv("TILEDSL_AUTOTUNE", "maybe")
    with pytest.raises(ValueError, match="TILEDSL_AUTOTUNE"):
        tiledsl.is_autotune_enabled()


def _shipped_copy(tuned, dest: Path, device: str | None = None, **versions) -> Path:
    src = next(tuned["out"].glob("*/*.json"))
    target = dest / (device or src.parent.name) / src.name
    target.parent.mkdir(parents=True)
    data = json.loads(src.read_text())
    data["versions"].update(versions)
    target.write_text(json.dumps(data))
    return target


def test_shipped_file_nearest_and_mismatch_warnings(in_cache, tmp_path, monkeypatch, caplog):
    data = json.loads(next(in_cache["out"].glob("*/*.json")).read_text())
    by_bucket = {e["bucket"][0]: e["config"] for e in data["buckets"]}
    caplog.set_level(logging.INFO, logger="tiledsl.tune")

    matmul = helpers.make_matmul(configs_dir=in_cache["out"])
    assert matmul(500, helpers.N, helpers.K).config == by_bucket[32]
    assert matmul.stats == {"nearest": 1} and "nearest tuned bucket [32,32,32]" in caplog.text

    old = tmp_path / "old"
    _shipped_copy(in_cache, old, tvm="0.1.0")
    caplog.clear()
    matmul = helpers.make_matmul(configs_dir=old)
    assert matmul(3, helpers.N, helpers.K).config == by_bucket[16] and matmul.stats == {"shipped": 1}
    assert any(r.levelname == "WARNING" and "tvm 0.1.0 (file)" in r.getMessage() for r in caplog.records)

    other = tmp_path / "other"
    _shipped_copy(in_cache, other, device="NVIDIA_H200")
    caplog.clear()
    monkeypatch.setenv("TILEDSL_TUNED_CONFIGS", str(other))
    matmul = helpers.make_matmul()
    assert matmul(3, helpers.N, helpers.K).config == by_bucket[16]
    assert any(r.levelname == "WARNING" and "tuned on NVIDIA_H200" in r.getMessage() for r in caplog.records)

    # forced re-tuning ignores a mismatched file; with tuning off the call then takes its default
    monkeypatch.setenv("TILEDSL_AUTO_TUNING_FORCE_RETUNE", "1")
    tiledsl.disable_autotune()
    other_config = next(c for c in helpers.CONFIGS if c != by_bucket[16])
    matmul = helpers.make_matmul(default_config=other_config)
    assert matmul(3, helpers.N, helpers.K).config == other_config and matmul.stats == {"default": 1}


def test_bad_bucket_settings_are_config_errors():
    with pytest.raises(tiledsl.ConfigError, match="'Q', which is not an argument"):
        helpers.make_matmul(key=["M", "Q"])
    with pytest.raises(tiledsl.ConfigError, match="not both"):
        helpers.make_matmul(key_fn=lambda M, N, K: M)
    with pytest.raises(tiledsl.ConfigError, match="not in key"):
        helpers.make_matmul(key=["N"])
    with pytest.raises(tiledsl.ConfigError, match="default_config.*'block_Q'"):
        helpers.make_matmul(default_config={"block_Q": 1})
    broken = helpers.make_matmul(bucket={"M": lambda m: 1 // 0})
    with pytest.raises(tiledsl.ConfigError, match="bucket\\['M'\\].*ZeroDivisionError"):
        broken(4, helpers.N, helpers.K)


def test_print_autotuning_covers_a_direct_tuner_run(in_cache, monkeypatch, capfd):
    """TILEDSL_PRINT_AUTOTUNING=1 prints the table of a tuning started with AutoTuner.run() as well (no bucket in
    its heading), and a cached answer prints nothing."""
    jit = tiledsl.jit(out_idx=[-1], target="llvm")(helpers.gemm_factory)

    def tune():
        tuner = tiledsl.AutoTuner.from_kernel(jit, configs=helpers.CONFIGS).set_profile_args(
            warmup=1, rep=2, timeout=60, ref_prog=helpers.ref_matmul, top_k=2, retime_rounds=1)
        return tuner.set_kernel_parameters((24, helpers.N, helpers.K)).run(quiet=True)

    monkeypatch.setenv("TILEDSL_PRINT_AUTOTUNING", "1")
    result = tune()
    err = capfd.readouterr().err
    assert "[tiledsl autotune] gemm_factory: tuned in" in err and "bucket" not in err
    assert f"best config {result.config}" in err and all(str(c) in err for c in helpers.CONFIGS)
    assert tune().config == result.config
    assert "[tiledsl autotune]" not in capfd.readouterr().err


def test_newer_style_kernel_is_bucketed_shipped_and_served(cache_dir, tmp_path):
    """A newer-style @jit kernel (sizes read off its tensors) under @autotune(key=, bucket=): M = 5 and 7 share one
    tuning; tune_shapes writes its bucket to a shipped file; a fresh factory reading the file serves M = 6 and a
    size of another bucket (nearest) without tuning, every result checked against torch."""
    import eager_programs as programs

    def bucketed(**extra):
        return tiledsl.autotune(configs=helpers.CONFIGS, warmup=1, rep=2, timeout=60, top_k=2, retime_rounds=1,
                                quiet=True, key=["M", "N", "K"], bucket={"M": tiledsl.tune.next_power_of_2},
                                **extra)(programs.gemm)

    def run(kernel, m):
        a, b = torch.randn(m, helpers.K, dtype=torch.float16), torch.randn(helpers.K, helpers.N, dtype=torch.float16)
        out = kernel(a, b, block_N=32, block_K=32)
        return float((out.float() - a.float() @ b.float()).abs().max())

    tuned = bucketed()
    assert max(run(tuned, 5), run(tuned, 7)) < 0.05
    assert tuned.stats == {"tuned": 1}
    shapes = [{"M": 5, "N": helpers.N, "K": helpers.K, "block_N": 32, "block_K": 32}]
    summary = tiledsl.tune.tune_shapes(tuned, shapes, tmp_path / "shipped", progress=False)
    assert summary["buckets"] == 1 and tuned.stats == {"tuned": 1}  # the bucket's tuning, from the cache
    tiledsl.AutoTuner._memory.clear()
    served = bucketed(configs_dir=tmp_path / "shipped")
    assert max(run(served, 6), run(served, 20)) < 0.05
    assert served.stats == {"shipped": 1, "nearest": 1}
