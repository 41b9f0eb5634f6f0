"""The README's tuning program and the autotuning example run as written (on the CPU here) and check themselves;
progress and the winner are shown by default; the cache switches work."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import tiledsl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "testing"))
from test_autotune_helpers import matmul  # noqa: E402


@pytest.mark.parametrize("where", ["cpu", pytest.param("gpu", marks=pytest.mark.gpu)])
def test_autotune_example_runs(tmp_path, where):
    """The README's first command's program: tunes on the GPU when there is one (the GPU case, which the device's
    ``-m gpu`` runs select), else on the CPU (the CPU case hides any GPU)."""
    path = os.pathsep.join([str(ROOT), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
    env = dict(os.environ, TILEDSL_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=path)
    if where == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "autotune_gemm.py")], capture_output=True,
                         text=True, timeout=300, env=env, cwd=str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "result matches torch" in out.stdout and "saved to and loaded from" in out.stdout
    assert "tuned matmul in" in out.stderr  # the summary table goes through logging
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]  # nothing written to the working directory
    # run again (the README's command, a second time): the bucket's winner comes from the disk cache, with both
    # times it was measured with
    again = subprocess.run([sys.executable, str(ROOT / "examples" / "autotune_gemm.py")], capture_output=True,
                           text=True, timeout=300, env=env, cwd=str(tmp_path))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "was tuned before" in again.stderr and "tuned matmul in" not in again.stderr
    assert again.stdout.splitlines()[0] == out.stdout.splitlines()[0]  # the same config, latency and torch time
    assert "result matches torch" in again.stdout


def readme_tuning_program() -> str:
    """The first Python block of the README's "Tuning" section."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## Tuning"):]
    start = section.index("```python\n") + len("```python\n")
    return section[start:section.index("```", start)]


@pytest.mark.slow  # CI runs it in scripts/newest.sh (newest releases); scripts/test.sh leaves it out for time
def test_readme_tuning_program_runs_as_written_and_shows_progress(tmp_path):
    script = tmp_path / "readme_tuning.py"
    script.write_text(readme_tuning_program())
    path = os.pathsep.join([str(ROOT), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
    env = dict(os.environ, TILEDSL_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=path)
    env.pop("TILEDSL_AUTO_TUNING_QUIET", None)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env,
                         cwd=str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "best config {" in out.stdout
    # stderr is a pipe here, not a terminal: progress lines, then the winner
    assert "tiledsl: tuning matmul: 4 configs" in out.stderr and "4/4 configs done" in out.stderr
    assert "tiledsl: tuned matmul in" in out.stderr and "best {'block_M'" in out.stderr


def _tune():
    tiledsl.AutoTuner._memory.clear()
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=[{"block_M": 32}])
    tuner.set_compile_args(target="llvm").set_profile_args(warmup=1, rep=1, timeout=60, skip_check=True)
    return tuner.set_kernel_parameters((64, 64, 64)).run()


def test_force_retune_and_disable_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(cache))
    first = _tune()
    assert not first.from_cache
    assert _tune().from_cache
    monkeypatch.setenv("TILEDSL_AUTO_TUNING_FORCE_RETUNE", "1")
    forced = _tune()
    assert not forced.from_cache and not any(t.resumed for t in forced.trials)
    monkeypatch.delenv("TILEDSL_AUTO_TUNING_FORCE_RETUNE")
    assert _tune().from_cache
    monkeypatch.setenv("TILEDSL_AUTO_TUNING_DISABLE_CACHE", "1")
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(tmp_path / "other"))
    uncached = _tune()
    assert not uncached.from_cache
    assert not (tmp_path / "other" / "autotune").exists()
    assert uncached.kernel.artifact_dir.is_dir()  # the winner's files are kept for this process
    monkeypatch.setenv("TILEDSL_DISABLE_CACHE", "1")  # no kernel cache either: builds live in a scratch folder
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(tmp_path / "third"))
    tiledsl.AutoTuner._memory.clear()
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=[{"block_M": 32}, {"block_M": 64}])
    tuner.set_compile_args(target="llvm").set_profile_args(warmup=1, rep=1, timeout=60, skip_check=True, top_k=2)
    no_cache = tuner.set_kernel_parameters((64, 64, 64)).run()
    assert all(t.retimed_latency is not None for t in no_cache.trials)  # finalists re-timed after builders left
    assert not (tmp_path / "third").exists()  # a disabled cache never touches the cache folder
    assert not [p for p in tiledsl.config.tmp_dir().iterdir() if p.name.startswith("tune-")]
    a = torch.randn(64, 64, dtype=torch.float16)
    torch.testing.assert_close(no_cache.kernel(a, a).float(), a.float() @ a.float(), rtol=1e-2, atol=5e-2)
