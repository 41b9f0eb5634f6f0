"""Autotuner parts one at a time (space, pruning, checker, records, identities, inputs), plus the decorator and
par_compile on the CPU."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import tvm

import tiledsl
from tiledsl.autotuner import checker, identity, records, space
from tiledsl.errors import CompileError, ConfigError
from tiledsl.profiler import TensorSupplyType, do_bench, make_inputs
from tiledsl.runtime.params import KernelParam

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_autotune_helpers import SIZE, gemm_factory, matmul  # noqa: E402


# ---------------------------------------------------------------------- space
def test_unknown_config_key_is_named():
    with pytest.raises(ConfigError, match=r"config key 'block_X'.*names no argument of gemm_factory"):
        space.materialize([{"block_M": 64}, {"block_X": 3}], gemm_factory, (64, 64, 64), {})


def test_configs_callable_generator_dedup_and_bad_values():
    def gen(M, N, K):
        for bm in (32, 64, 32):
            yield {"block_M": bm, "block_K": min(K, 32)}
    got = space.materialize(gen, gemm_factory, (64, 64, 64), {})
    assert got == [{"block_M": 32, "block_K": 32}, {"block_M": 64, "block_K": 32}]
    with pytest.raises(ConfigError, match="not a dict"):
        space.materialize([("block_M", 3)], gemm_factory, (), {})
    with pytest.raises(ConfigError, match="empty"):
        space.materialize([], gemm_factory, (), {})
    with pytest.raises(ConfigError, match="not JSON"):
        space.materialize([{"block_M": object()}], gemm_factory, (), {})
    with pytest.raises(ConfigError, match="passes block_M= explicitly"):
        space.materialize([{"block_M": 32}], gemm_factory, (64, 64, 64), {"block_M": 16})


def test_prune_fn_and_hardware_limits():
    assert space.user_prune(lambda c, M, N, K: c["block_M"] > M, {"block_M": 128}, (64, 64, 64), {})
    assert space.user_prune(lambda c, *a: False, {"block_M": 16}, (64,), {}) is None
    with pytest.raises(ConfigError, match="prune_fn .* raised"):
        space.user_prune(lambda c, *a: c["missing"], {"block_M": 16}, (64,), {})
    h100 = space.DeviceLimits.for_target(tvm.target.Target({"kind": "cuda", "arch": "sm_90a"}))
    assert h100.max_shared_bytes == 232448 and h100.max_threads == 1024
    assert space.DeviceLimits.for_target(tvm.target.Target("llvm")) == space.DeviceLimits()
    assert "threads=2048" in space.check_limits({"threads": 2048}, h100)
    assert space.check_limits({"threads": 256}, h100) is None
    # shared memory: (256x64 + 64x256) fp16 per stage x 4 stages = 256 KiB > 227 KiB; 3 stages fit
    big = gemm_factory(4096, 4096, 4096, block_M=256, block_N=256, block_K=64, num_stages=4)
    assert space.program_usage(big) == {"threads": 128, "shared_bytes": 4 * 2 * 256 * 64 * 2}
    assert "shared memory" in space.check_program(big, h100)
    fits = gemm_factory(4096, 4096, 4096, block_M=256, block_N=256, block_K=64, num_stages=3)
    assert space.check_program(fits, h100) is None
    assert space.check_program(big, space.DeviceLimits()) is None


# ---------------------------------------------------------------------- checker
def test_checker_tolerances_ratio_and_nan():
    ref = torch.ones(10, 10)
    out = ref.clone()
    assert checker.compare(out, ref, 1e-2, 1e-2, 0.0) is None
    out[0, 0] = 2.0
    assert "1 of 100" in checker.compare(out, ref, 1e-2, 1e-2, 0.0)
    assert checker.compare(out, ref, 1e-2, 1e-2, 0.02) is None
    out[0, 0] = float("nan")
    assert "differs" in checker.compare(out, ref, 1e-2, 1e-2, 0.0)
    assert "shape" in checker.compare(torch.ones(3), ref, 1e-2, 1e-2, 0.0)
    assert "2 outputs" in checker.compare([ref, ref], ref, 1e-2, 1e-2, 0.0)
    assert checker.manual_check(lambda o, r: False, out, ref).startswith("wrong result")
    assert "boom" in checker.manual_check(lambda o, r: (_ for _ in ()).throw(AssertionError("boom")), out, ref)
    assert checker.manual_check(lambda o, r: None, out, ref) is None


# ---------------------------------------------------------------------- records
def test_trial_log_survives_a_torn_line(tmp_path):
    log = records.TrialLog(tmp_path / "t" / "trials.jsonl")
    log.append(records.Trial({"block_M": 32}, records.OK, latency=1.5))
    log.append(records.Trial({"block_M": 64}, records.CRASH, reason="segfault"))
    with open(log.path, "a") as f:
        f.write('{"config": {"block_M": 1')  # a kill mid-write
    got = log.load()
    assert set(got) == {space.config_id({"block_M": 32}), space.config_id({"block_M": 64})}
    assert got[space.config_id({"block_M": 64})].reason == "segfault"


# ---------------------------------------------------------------------- identities (cache keys)
def test_callable_identity_is_stable_and_content_based():
    def make(scale):
        return lambda a, b: (a @ b) * scale
    one, again, two = make(1.0), make(1.0), make(2.0)
    assert identity.function_identity(one) == identity.function_identity(again)
    assert identity.function_identity(one) != identity.function_identity(two)
    assert identity.function_identity(torch.matmul) == identity.function_identity(torch.matmul)
    assert "0x" not in json.dumps(identity.value_identity(object()))
    t = torch.arange(6.0)
    assert identity.tensor_digest([t]) == identity.tensor_digest([t.clone()])
    assert identity.tensor_digest([t]) != identity.tensor_digest([t + 1])


# ---------------------------------------------------------------------- inputs and timing
def test_supply_types_and_do_bench():
    params = [KernelParam("A", "float16", (4, 8)), KernelParam("I", "int32", (5,))]
    a, i = make_inputs(params, TensorSupplyType.Auto, "cpu")
    assert a.dtype == torch.float16 and a.shape == (4, 8) and float(a.abs().max()) <= 1.0
    assert i.dtype == torch.int32 and int(i.min()) >= -2 and int(i.max()) <= 2
    assert torch.equal(make_inputs(params, "Auto", "cpu")[0], a)  # reproducible
    assert float(make_inputs(params, TensorSupplyType.One, "cpu")[0].sum()) == 32
    assert float(make_inputs(params, TensorSupplyType.Zero, "cpu")[0].abs().sum()) == 0
    with pytest.raises(ConfigError, match="symbolic"):
        make_inputs([KernelParam("A", "float16", ("n", 8))], "Auto", "cpu")
    with pytest.raises(ConfigError, match="supply_type"):
        make_inputs(params, "Gaussian", "cpu")
    calls = []
    ms = do_bench(lambda: calls.append(1), warmup=3, rep=7, backend="wall")
    assert ms >= 0 and len(calls) == 10
    assert len(do_bench(lambda: None, warmup=0, rep=4, backend="wall", return_mode="all")) == 4
    with pytest.raises(ConfigError, match="rep"):
        do_bench(lambda: None, rep=0)


def test_set_autotune_inputs_context_and_plain_call():
    from tiledsl.autotuner import get_autotune_inputs

    a = torch.ones(2)
    with tiledsl.set_autotune_inputs(a, a):
        assert len(get_autotune_inputs()) == 2
    assert get_autotune_inputs() is None
    try:
        tiledsl.set_autotune_inputs([a])
        assert get_autotune_inputs() == (a,)
    finally:  # a failure above must not leave global inputs for the tests after this one
        tiledsl.set_autotune_inputs(None)
    assert get_autotune_inputs() is None


# ---------------------------------------------------------------------- decorator and par_compile (CPU)
@tiledsl.autotune(configs=[{"block_M": 32}, {"block_M": 64}], warmup=1, rep=2, timeout=60, top_k=2,
                  retime_rounds=1, ref_prog=lambda A, B: A @ B)
@tiledsl.jit(out_idx=[-1], target="llvm")
def tuned_matmul(M, N, K, block_M=32, block_N=32, block_K=32, num_stages=2, threads=128, variant="ok",
                 dtype="float16"):
    return gemm_factory(M, N, K, block_M, block_N, block_K, num_stages, threads, variant, dtype)


def test_decorator_tunes_once_per_arguments_on_given_inputs(cache_dir):
    a = torch.randn(64, 64, dtype=torch.float16)
    b = torch.randn(64, 64, dtype=torch.float16)
    with tiledsl.set_autotune_inputs(a, b):
        kernel = tuned_matmul(64, 64, 64)
    assert kernel.config in ({"block_M": 32}, {"block_M": 64}) and kernel.latency > 0
    torch.testing.assert_close(kernel(a, b).float(), a.float() @ b.float(), rtol=1e-2, atol=5e-2)
    with tiledsl.set_autotune_inputs(a, b):
        assert tuned_matmul(64, 64, 64) is kernel  # remembered in the process
    result = tuned_matmul.tune(64, 64, 64)  # other inputs (auto supply): another key, tuned again
    assert result.kernel is not kernel and not result.from_cache
    # each trial records what its kernel really is (the path taken; a hash that identifies identical kernels)
    assert all(t.kernel["path"] == "generic" and t.kernel["source_sha256"] for t in result.trials if t.ok)
    # explicit tunable arguments: compiled as given, no tuning
    direct = tuned_matmul(64, 64, 64, block_M=16)
    assert direct.config is None


def test_decorator_rejects_user_mistakes():
    with pytest.raises(ConfigError, match="above @tiledsl.jit"):
        tiledsl.autotune(configs=[{}])(gemm_factory)
    bad = tiledsl.autotune(configs=[{"blockM": 32}])(tiledsl.jit(out_idx=[-1], target="llvm")(gemm_factory))
    with pytest.raises(ConfigError, match="'blockM'"):
        bad(64, 64, 64)
    with pytest.raises(ConfigError, match="warmup"):
        tiledsl.autotune(configs=[{}], warmup=-1)


def test_every_candidate_failing_lists_reasons(cache_dir):
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=[{"variant": "bad_build"}, {"variant": "wrong"}])
    tuner.set_compile_args(target="llvm").set_profile_args(warmup=1, rep=1, timeout=60, ref_prog=lambda A, B: A @ B)
    tuner.set_kernel_parameters((SIZE, SIZE, SIZE))
    with pytest.raises(tiledsl.AutotuneError) as info:
        tuner.run()
    msg = str(info.value)
    assert "build_error 1" in msg and "wrong_result 1" in msg and "shapes do not agree" in msg


def _product_with_one_element_off(A, B):
    out = A @ B
    out[0, 0] += 100.0
    return out


def test_every_candidate_missing_a_few_elements_gets_a_hint(cache_dir):
    """All configs failing the comparison in a tiny fraction of the elements (the same arithmetic difference, such
    as an fp8 tensor-core sum) get a hint to allow it; a wrong result of any size still fails the tuning."""
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=[{"block_M": 32}, {"block_M": 64}])
    tuner.set_compile_args(target="llvm").set_profile_args(warmup=1, rep=1, timeout=60,
                                                           ref_prog=_product_with_one_element_off)
    tuner.set_kernel_parameters((SIZE, SIZE, SIZE))
    with pytest.raises(tiledsl.AutotuneError) as info:
        tuner.run()
    msg = str(info.value)
    assert "wrong_result 2" in msg and "max_mismatched_ratio" in msg and "0.0061%" in msg


def test_near_miss_hint_only_for_small_comparison_failures():
    small = "wrong result: output 0 differs in 3 of 10000 elements (0.03% > 0% allowed, rtol=0.01, atol=0.01)"
    large = "wrong result: output 0 differs in 30 of 10000 elements (0.3% > 0% allowed, rtol=0.01, atol=0.01)"
    assert checker.mismatch_fraction(small) == 3e-4 and checker.mismatch_fraction("run_error: boom") is None
    assert "max_mismatched_ratio" in checker.near_miss_hint([small, small])
    assert checker.near_miss_hint([small, large]) is None
    assert checker.near_miss_hint([small, "wrong result (manual_check_prog returned False)"]) is None
    assert checker.near_miss_hint([]) is None
    ref = torch.zeros(100, 100)
    out = ref.clone()
    out[3, 4] = 1.0
    assert checker.mismatch_fraction(checker.compare(out, ref, 1e-2, 1e-2, 0.0)) == 1e-4


def test_par_compile(cache_dir):
    kernels = matmul.par_compile([dict(M=64, N=64, K=64, block_M=32), dict(M=64, N=64, K=64, variant="bad_build")],
                                 ignore_error=True, timeout=120)
    assert kernels[1] is None
    a = torch.randn(64, 64, dtype=torch.float16, device="cuda" if kernels[0].target_kind == "cuda" else "cpu")
    torch.testing.assert_close(kernels[0](a, a).float(), a.float() @ a.float(), rtol=1e-2, atol=5e-2)
    assert matmul(M=64, N=64, K=64, block_M=32) is kernels[0]
    with pytest.raises(CompileError, match="bad_build"):
        matmul.par_compile([dict(M=64, N=64, K=64, variant="bad_build")])


@pytest.mark.parametrize("reexec", [False, pytest.param(True, marks=pytest.mark.slow)],  # the fallback: slow
                         ids=["forked", "re-executed"])
def test_compile_timeout_kills_one_forked_builder(cache_dir, monkeypatch, reexec):
    monkeypatch.setenv("TILEDSL_AUTO_TUNING_CPU_COUNTS", "2")  # two builders forked from one fork server
    if reexec:  # the fallback when torch touched CUDA in the fork server: the forked builder re-executes
        monkeypatch.setenv("TILEDSL_WORKER_FORCE_REEXEC", "1")
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=[{"variant": "slow_compile"}, {"block_M": 32},
                                                           {"block_M": 64}])
    tuner.set_compile_args(target="llvm").set_profile_args(warmup=1, rep=1, timeout=5, skip_check=True)
    tuner.set_kernel_parameters((64, 64, 64))
    result = tuner.run()
    statuses = [t.status for t in result.trials]
    assert statuses == ["build_timeout", "ok", "ok"], [(t.status, t.reason) for t in result.trials]
    assert "5 s limit" in result.trials[0].reason and "builder worker was killed" in result.trials[0].reason
    assert result.phases["builders_ready_s"][0] > 0


def test_from_kernel_with_a_plain_factory_and_per_config_pass_configs(cache_dir):
    configs = [{"block_M": 32, "pass_configs": {"tirx.disable_vectorize": True}}, {"block_M": 64}]
    tuner = tiledsl.AutoTuner.from_kernel(gemm_factory, configs=configs)  # not wrapped in @tiledsl.jit
    tuner.set_compile_args(out_idx=[-1], target="llvm")
    tuner.set_profile_args(warmup=1, rep=2, timeout=60, ref_prog=lambda A, B: A @ B, supply_type="Randn")
    result = tuner.set_kernel_parameters((64, 64, 64)).run()
    assert [t.status for t in result.trials] == ["ok", "ok"], [t.reason for t in result.trials]
    a = torch.randn(64, 64, dtype=torch.float16)
    torch.testing.assert_close(result.kernel(a, a).float(), a.float() @ a.float(), rtol=1e-2, atol=5e-2)


def test_two_benchmark_workers_share_the_queue(cache_dir):
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=[{"block_M": 16}, {"block_M": 32}, {"block_M": 64},
                                                           {"variant": "crash"}])
    tuner.set_compile_args(target="llvm").set_profile_args(warmup=1, rep=1, timeout=60, skip_check=True, top_k=2)
    result = tuner.set_kernel_parameters((64, 64, 64)).run(benchmark_devices=["cpu", "cpu"])
    assert [t.status for t in result.trials] == ["ok", "ok", "ok", "crash"]
    assert all(t.device == "cpu" for t in result.trials if t.ok)
    with pytest.raises(ConfigError, match="benchmark_devices"):
        tuner.run(benchmark_devices=[0])


@pytest.mark.parametrize("dtype", ["float8_e4m3fn", "float8_e5m2", "bfloat16", "float16", "bool", "int64"])
def test_autotune_inputs_travel_to_workers_bit_for_bit(dtype):
    import pickle

    from tiledsl.autotuner.transport import pack_inputs, unpack_inputs

    source = torch.randn(3, 5, 2) * 4
    tensor = source.to(getattr(torch, dtype))[:, 1:]  # not contiguous
    empty = torch.empty(0, 4, dtype=getattr(torch, dtype))
    packed = pickle.loads(pickle.dumps(pack_inputs([tensor, 2.5, empty])))
    back, scalar, back_empty = unpack_inputs(packed, "cpu")
    assert back.dtype == tensor.dtype and back.shape == tensor.shape and scalar == 2.5
    assert torch.equal(back.view(torch.uint8), tensor.contiguous().view(torch.uint8))
    assert back_empty.shape == (0, 4) and back_empty.dtype == empty.dtype


def test_cuda_target_without_a_gpu_means_sm_90a(monkeypatch):
    import tvm

    from tiledsl.runtime import target as target_module

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: 'cuda' means its arch")
    for spec in ("cuda", {"kind": "cuda"}, tvm.target.Target({"kind": "cuda"})):
        assert str(target_module.resolve_target(spec).attrs["arch"]) == target_module.DEFAULT_CUDA_ARCH == "sm_90a"
    assert str(target_module.resolve_target({"kind": "cuda", "arch": "sm_80"}).attrs["arch"]) == "sm_80"


@pytest.mark.nvcc
def test_cuda_target_builds_without_a_gpu(tmp_path, monkeypatch):
    import tiledsl.language as T

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(tmp_path))

    @T.prim_func
    def add_one(A: T.Tensor((256,), "float32"), B: T.Tensor((256,), "float32")):
        with T.Kernel(2, threads=128) as bx:
            for i in T.Parallel(128):
                B[bx * 128 + i] = A[bx * 128 + i] + 1.0

    kernel = tiledsl.compile(add_one, out_idx=[-1], target="cuda")
    assert "sm_90a" in kernel.target and "__global__" in kernel.get_kernel_source()
    with pytest.raises(tiledsl.TargetError):
        kernel(torch.randn(256))


def test_run_names_the_keyword_arguments_it_ignores(caplog, cache_dir):
    """TileLang's run options tiledsl has no use for (``enable_grouped_compile``) are ignored with a WARNING that
    names them, before anything else happens."""
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=[{"block_X": 3}]).set_kernel_parameters((SIZE, SIZE, SIZE))
    with caplog.at_level("WARNING", logger="tiledsl.autotuner.tuner"):
        with pytest.raises(ConfigError, match="block_X"):
            tuner.run(enable_grouped_compile=True)
    assert "ignores enable_grouped_compile=True" in caplog.text


def test_bucket_winners_and_shipped_files_keep_the_config_key_order(cache_dir, tmp_path):
    """A bucket's winner read back from the disk cache (what ``@tiledsl.autotune`` returns on a later run) and a
    shipped config file keep the config's key order (the README's example printed its tuned config and the cached
    one with the keys sorted, on the GPU, 2026-12-07)."""
    from tiledsl.tune import bucket_cache, shipped

    config = {"block_N": 64, "block_M": 128, "block_K": 32, "num_stages": 3}
    bucket_cache.store("ab" * 32, {"config": config, "latency_ms": 1.0})
    assert list(bucket_cache.load("ab" * 32)["config"]) == list(config)
    path = tmp_path / "shipped.json"
    shipped.write_file(path, {"buckets": [{"bucket": [16], "config": config}]})
    assert [list(e["config"]) for e in shipped.read_file(path)["buckets"]] == [list(config)]
    assert list(shipped.read_file(path)["default"]) == list(config)


def test_a_result_read_back_keeps_the_config_key_order(cache_dir, tmp_path):
    """The winner's keys come back from the tuning cache and from save_to_disk in the order of the space's config
    (the README's example printed a tuned config and its cached twin differently on the GPU)."""
    configs = [{"block_N": 32, "block_M": 32, "block_K": 32}]
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=configs).set_compile_args(target="llvm")
    tuner.set_profile_args(warmup=1, rep=1, timeout=60, skip_check=True).set_kernel_parameters((64, 64, 64))
    tuned = tuner.run()
    tiledsl.AutoTuner._memory.clear()
    cached = tuner.run()
    assert cached.from_cache and not tuned.from_cache
    loaded = tiledsl.AutotuneResult.load_from_disk(cached.save_to_disk(tmp_path / "saved"))
    for result in (tuned, cached, loaded):
        assert list(result.config) == ["block_N", "block_M", "block_K"] == list(result.kernel.config)
