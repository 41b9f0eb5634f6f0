"""``tiledsl.testing`` as TileLang's example test files and regression scripts use it."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

import tiledsl.testing as tl_testing

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

REGRESSION_SCRIPT = """
    import itertools
    import tiledsl.testing

    calls = itertools.count()

    def gemm_perf(M=16):
        return M / 8.0

    def flaky_perf():
        # not positive on its first call, as a timer that has not warmed up may be
        return 0.0 if next(calls) == 0 else 2.5

    def regression_gemm():
        tiledsl.testing.process_func(gemm_perf, "regression_gemm_small", M=8)
        tiledsl.testing.process_func(gemm_perf, M=32)

    def regression_attention():
        tiledsl.testing.process_func(flaky_perf, "attention")

    def not_a_case():
        raise AssertionError("only regression_* functions run")

    if __name__ == "__main__":
        tiledsl.testing.regression()
"""


def _run_script(tmp_path, name, source, env_extra=None):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env_extra or {}))
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=120,
                          cwd=tmp_path)


def test_regression_runs_each_case_in_name_order_and_prints_its_latencies(tmp_path):
    done = _run_script(tmp_path, "regression_example.py", REGRESSION_SCRIPT)
    assert done.returncode == 0, done.stderr
    results = [line for line in done.stdout.splitlines() if ": " in line and not line.startswith("[")]
    # attention runs before gemm (name order); the flaky function is retried until its latency is positive;
    # a result without a name is labelled with the function's module
    assert results == ["attention: 2.5", "gemm_small: 1.0", "__main__: 4.0"]
    assert "[1/2] attention" in done.stdout and "[2/2] gemm" in done.stdout


def test_regression_json_output_and_case_filter(tmp_path):
    done = _run_script(tmp_path, "regression_example.py", REGRESSION_SCRIPT,
                       {"TL_PERF_REGRESSION_FORMAT": "json", "TL_PERF_REGRESSION_ONLY": "gem*"})
    assert done.returncode == 0, done.stderr
    marker = [line for line in done.stdout.splitlines() if line.startswith("__TILELANG_PERF_RESULTS_JSON__=")]
    assert len(marker) == 1
    rows = json.loads(marker[0].split("=", 1)[1])
    assert rows == [{"name": "gemm_small", "latency": 1.0, "case": "gemm"},
                    {"name": "__main__", "latency": 4.0, "case": "gemm"}]


def test_main_runs_the_calling_file_with_pytest(tmp_path):
    done = _run_script(tmp_path, "test_example_file.py", """
        import tiledsl.testing

        def test_passes():
            assert 1 + 1 == 2

        def test_fails():
            assert 1 + 1 == 3

        if __name__ == "__main__":
            tiledsl.testing.main()
    """)
    assert done.returncode == 1, done.stdout
    assert "1 failed, 1 passed" in done.stdout


@pytest.mark.parametrize("mode, skipped", [("ge", False), ("gt", True), ("le", False), ("lt", True), ("eq", False)])
def test_compute_version_markers_compare_as_tilelang_does(monkeypatch, mode, skipped):
    monkeypatch.setattr(tl_testing, "_capability", lambda: (9, 0))  # an H100/H200, which this machine lacks
    assert tl_testing.requires_cuda_compute_version(9, 0, mode).mark.args == (skipped,)
    named = getattr(tl_testing, f"requires_cuda_compute_version_{mode}")
    assert named(9, 0).mark.args == (skipped,)
    assert tl_testing.requires_cuda_compute_version(8, 9).mark.args == (False,)  # "ge" is the default


def test_compute_version_markers_skip_without_a_gpu(monkeypatch):
    monkeypatch.setattr(tl_testing, "_capability", lambda: None)
    assert tl_testing.requires_cuda_compute_version(8, 0, "ge").mark.args == (True,)
    with pytest.raises(ValueError, match="mode must be one of"):
        tl_testing.requires_cuda_compute_version(9, 0, "approximately")


def test_amd_markers_always_skip():
    def test_on_amd():
        pass

    assert tl_testing.requires_rocm(test_on_amd).pytestmark[0].args == (True,)
