"""tiledsl.tune parts that need no tuning run: buckets, nearest buckets, the default of a shipped file, the switch,
key_fn buckets while tuning is off (real CPU kernels are compiled, nothing is tuned)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import tiledsl
from tiledsl.tune import buckets, shipped

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import test_tune_helpers as helpers  # noqa: E402


@pytest.fixture
def switch(monkeypatch, tmp_path):
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("TILEDSL_AUTOTUNE", "TILEDSL_TUNED_CONFIGS"):
        monkeypatch.delenv(name, raising=False)
    tiledsl.tune.reset_autotune_switch()
    yield
    tiledsl.tune.reset_autotune_switch()


def test_next_power_of_2():
    assert [tiledsl.tune.next_power_of_2(n) for n in (0, 1, 2, 3, 4, 5, 63, 64, 65, 4096, 4097)] == \
        [1, 1, 2, 4, 4, 8, 64, 64, 128, 4096, 8192]


def test_bucket_of_key_bucket_and_exact_modes():
    spec = buckets.BucketSpec(helpers.gemm_factory, key=["M", "N", "K"], bucket={"M": helpers.bucket_m})
    assert spec.bucket_of((5, 32, 32), {}) == [16, 32, 32] == spec.bucket_of((), {"M": 16, "N": 32, "K": 32})
    assert spec.bucket_of((17, 32, 32), {"block_M": 64}) == [32, 32, 32]  # arguments outside key do not count
    exact = buckets.BucketSpec(helpers.gemm_factory)
    assert exact.exact and exact.bucket_of((5, 32, 32), {}) != exact.bucket_of((6, 32, 32), {})
    by_fn = buckets.BucketSpec(helpers.gemm_factory, key_fn=lambda M, N, K, **kw: ("decode" if M <= 8 else "big", N))
    assert by_fn.bucket_of((3, 32, 32), {}) == ["decode", 32] == by_fn.bucket_of((8, 32, 32), {})


def test_nearest_bucket_by_log_distance():
    tuned = [[16, 4096, 4096], [256, 4096, 4096], [16, 1024, 4096]]
    assert buckets.nearest([32, 4096, 4096], tuned) == 0
    assert buckets.nearest([128, 4096, 4096], tuned) == 1
    assert buckets.nearest([8, 1024, 4096], tuned) == 2
    assert buckets.nearest(["float16", 64], [["float32", 64]]) is None  # another dtype: not comparable
    assert buckets.distance({"M": 4, "dtype": "f16"}, {"M": 16, "dtype": "f16"}) == 2.0


def test_shipped_default_is_most_common_winner(tmp_path):
    a, b = {"block_M": 16}, {"block_M": 32}
    entries = [{"bucket": [m], "config": c} for m, c in ((1, a), (2, b), (4, b), (8, a), (16, b))]
    assert shipped.default_config(entries) == b
    path = tmp_path / "dev" / "f.json"
    shipped.write_file(path, {"buckets": entries, "versions": {}})
    assert json.loads(path.read_text())["default"] == b and shipped.read_file(path)["format"] == 1
    path.write_text("[1, 2]")
    with pytest.raises(tiledsl.ConfigError, match="is not a tiledsl tuned-configs file"):
        shipped.read_file(path)


def test_switch_api_and_environment(switch, monkeypatch):
    assert tiledsl.is_autotune_enabled()
    monkeypatch.setenv("TILEDSL_AUTOTUNE", "0")
    assert not tiledsl.is_autotune_enabled()
    tiledsl.enable_autotune()  # the call overrides the environment
    assert tiledsl.is_autotune_enabled()
    tiledsl.disable_autotune()
    assert not tiledsl.is_autotune_enabled()
    tiledsl.tune.reset_autotune_switch()
    monkeypatch.setenv("TILEDSL_AUTOTUNE", "1")
    assert tiledsl.is_autotune_enabled()


def test_key_fn_buckets_with_tuning_off_compile_the_default_per_size(switch):
    matmul = helpers.make_matmul(key=None, bucket=None, key_fn=lambda M, N, K: "decode" if M <= 8 else "prefill",
                                 default_config={"block_M": 32})
    tiledsl.disable_autotune()
    for m in (1, 3, 8, 40):
        kernel = matmul(m, helpers.N, helpers.K)
        assert kernel.config == {"block_M": 32} and helpers.check_kernel(kernel, m) < 0.05
    assert matmul.stats == {"default": 2}  # two buckets, four sizes, nothing tuned
    assert not (Path(tiledsl.config.cache_dir()) / "autotune" / "results").exists()
