"""``TILEDSL_WARPGROUP_RELEASE`` (on by default; ``0`` turns it off): a warp-specialized ring whose tiles only wgmma
gemms read is released by the first thread of each consumer warpgroup (its empty barriers count one arrival per
warpgroup), not by every warp's lane 0 (``passes/cuda/pipeline.py: _release_granularity``). A ring whose tiles the
threads convert for the gemms (``TILEDSL_WS_TRANSFORMS``) keeps one release per warp.

nvcc: the releases and the barrier counts in the generated source. GPU: attention (causal or not, on 3 persistent
CTAs), the GEMM and the int8-weight GEMM (its weight loaded from the ring by the threads into wgmma's register
operand) against their references, outputs poisoned with NaN.
"""
import re

import pytest

import tiledsl

import general_programs as bench

SM90A = {"kind": "cuda", "arch": "sm_90a"}

# its tests are marked slow (scripts/test.sh -m slow runs them; CI keeps its 10 minutes): the default form is in
# every warp-specialized kernel the other tests build
pytestmark = [pytest.mark.usefixtures("general_passes_only", "no_kernel_cache"), pytest.mark.slow]


def _release_form(src):
    """({arrivals each empty barrier counts}, {threads per releasing thread}) of a kernel's source."""
    counts = set(re.findall(r"mbarrier_init_init_shared_b64\(tvm_builtin_cuda_cvta_generic_to_shared\(\(&\(\w+_empty_ptr"
                            r"\[\d+\]\)\)\), \(uint\)(\d+)\)", src))
    guards = set(re.findall(r"% (\d+)\) == 0\) \{\s*tvm_builtin_ptx_mbarrier_arrive_arrive", src))
    return counts, guards


@pytest.mark.nvcc
@pytest.mark.parametrize("on", [None, "0", "1"])
def test_attention_releases_once_per_warpgroup_unless_switched_off(on, monkeypatch):
    if on is None:
        monkeypatch.delenv("TILEDSL_WARPGROUP_RELEASE", raising=False)
    else:
        monkeypatch.setenv("TILEDSL_WARPGROUP_RELEASE", on)
    kernel = tiledsl.compile(bench.flash_attention(2, 4, 1024, 128, False), out_idx=[], target=SM90A)
    assert kernel.kernel_info["pipelines"] == ["tma+warp_specialized+deferred_gemm"]
    assert _release_form(kernel.get_kernel_source()) == (({"2"}, {"128"}) if on != "0" else ({"8"}, {"32"}))


@pytest.mark.nvcc
def test_a_ring_the_threads_convert_keeps_one_release_per_warp(monkeypatch):
    monkeypatch.setenv("TILEDSL_WARPGROUP_RELEASE", "1")
    monkeypatch.setenv("TILEDSL_REGISTER_DEQUANT", "0")  # the weight converted in shared memory by the threads
    kernel = tiledsl.compile(bench.cases(small=True)["int8_weight_m4096"].kernels["main"], out_idx=[], target=SM90A)
    assert kernel.kernel_info["pipelines"] == ["tma+warp_specialized+transforms"]
    assert _release_form(kernel.get_kernel_source()) == ({"8"}, {"32"})


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("S,stages", [(1000, 2), (2048, 3)])
def test_attention_released_per_warpgroup_matches_torch(S, stages, causal, monkeypatch):
    monkeypatch.setenv("TILEDSL_WARPGROUP_RELEASE", "1")
    monkeypatch.setenv("TILEDSL_PERSISTENT", "3")
    monkeypatch.setenv("TILEDSL_PERSISTENT_UNEVEN", "1")
    kernel = bench.check_flash_attention_on_gpu(2, 3, S, 128, causal, stages=stages)
    assert _release_form(kernel.get_kernel_source())[1] == {"128"}


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["gemm", "batched", "int8_weight_m4096"])
def test_gemms_released_per_warpgroup_match_torch(name, monkeypatch):
    monkeypatch.setenv("TILEDSL_WARPGROUP_RELEASE", "1")
    compiled = bench.check_case_on_gpu(name)
    assert _release_form(compiled["main"].get_kernel_source())[1] == {"128"}
