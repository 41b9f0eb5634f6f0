"""The programs of ``benchmarks/bench_general.py`` (``testing/general_programs.py``), with the whole-kernel Hopper
matchers off (the general passes only).

CPU: split-KV flash decoding and the attention backward compute what torch computes (LLVM target, small ragged
sizes, float32 reference, outputs poisoned with NaN). nvcc: every kernel of every program builds for sm_90a and
its gemms use wgmma (a regression to mma.sync fails here), its shared-memory loads stay asynchronous; on sm_80 the
gemms use mma.sync. GPU: every program at the benchmark's small sizes matches the float32 reference, and so does
its torch peer (the call the benchmark times it against).
"""
import functools

import pytest
import torch

import general_programs as G
import tiledsl
from tiledsl.codegen.compile import SERIALIZING_NOTES
from tiledsl.codegen.nvcc import ptxas_notes
from fence_check import unfenced_wgmma_reads
from test_warp_index import thread_dependent_wgmma_operands

SM90A = {"kind": "cuda", "arch": "sm_90a"}
SM80 = {"kind": "cuda", "arch": "sm_80"}
# How each gemm kernel's pipelined global->shared loads are built on sm_90a: TMA, except the int8 weight of the
# mma.sync kernel (int8_weight_m16), a loaded tile read by more than gemms in a loop that is not warp-specialized
# (see docs/cuda.md). A program falling back to cp.async shows here.
SM90A_LOADS = {}
# The gemm instruction on sm_90a: wgmma everywhere (the int8-weight GEMMs with the weight converted in registers,
# passes/cuda/register_dequant.py).
SM90A_INSTRUCTION = {}
# Pipelined loops get a producer warpgroup (warp specialization): gemm-only loops and attention's (the default
# TILEDSL_WARP_SPECIALIZE=all); the gemm-only ones store their result by TMA.
TMA_STORED = ("gemm", "gemm_A_T", "gemm_B_T", "gemm_residual", "batched", "swiglu",
              "gemm_staged",  # the staged result folded into the direct copy by the TMA-store epilogue
              "int8_weight_m4096", "int8_weight_m16")  # gemm-only loops once the weight converts in registers
WARP_SPECIALIZED = TMA_STORED + ("flash_attention", "flash_attention_causal")
# Whole-tile atomic adds (dQ) by TMA reduce-adds.
TMA_REDUCED = ("attention_bwd", "attention_bwd_causal")
# sm_80 builds in the default run: one program per gemm form the others do not have (A^T, two gemms sharing A,
# a gemm with A from a fragment, both operands MN-major); the rest are marked slow.
SM80_IN_CI = ("gemm_A_T", "swiglu", "flash_decode", "attention_bwd")


@functools.lru_cache(maxsize=None)
def _cases():
    return G.cases(small=True)


CASE_NAMES = sorted(_cases())
GEMM_KERNELS = [(name, k) for name in CASE_NAMES for k in _cases()[name].gemm_kernels]


pytestmark = pytest.mark.usefixtures("general_passes_only")


@pytest.fixture(scope="module")
def compiled():
    """(program, kernel, target) -> the compiled kernel, each built once for the whole module."""
    built = {}

    def get(name, kernel, target):
        key = (name, kernel, target["arch"])
        if key not in built:
            built[key] = tiledsl.compile(_cases()[name].kernels[kernel], out_idx=[], target=target)
        return built[key]
    return get


@pytest.fixture(scope="module")
def source(compiled):
    """(program, kernel, target) -> CUDA source, each kernel built once for the whole module."""
    return lambda name, kernel, target: compiled(name, kernel, target).get_kernel_source()


# ---------------------------------------------------------------- builds (nvcc, no GPU)
@pytest.mark.nvcc
@pytest.mark.parametrize("name", CASE_NAMES)
def test_program_builds_for_sm90a_with_wgmma(name, source):
    """Each kernel of the program builds for sm_90a; those with gemms use wgmma and TMA loads (cp.async where
    SM90A_LOADS says), gemm-only loops with a producer warpgroup and a TMA-store epilogue, whole-tile atomic adds
    TMA reduce-adds."""
    case = _cases()[name]
    for kernel in case.kernels:
        src = source(name, kernel, SM90A)
        want = SM90A_INSTRUCTION.get(name, "wgmma") if kernel in case.gemm_kernels else "none"
        assert G.gemm_instruction(src) == want, f"{name}/{kernel}"
        if kernel in case.gemm_kernels:
            assert G.copy_instruction(src) == SM90A_LOADS.get(name, "tma"), f"{name}/{kernel}"
            assert ("setmaxnreg" in src) == (name in WARP_SPECIALIZED), f"{name}/{kernel}"
            assert ("cp_async_bulk_tensor_s2g" in src) == (name in TMA_STORED), f"{name}/{kernel}"  # TMA store
            assert ("cp_reduce_async_bulk_tensor" in src) == (name in TMA_REDUCED), f"{name}/{kernel}"
            if want == "wgmma":  # (ldmatrix only in the helper reading an 8-bit weight for register_dequant.py)
                assert "mma_sync" not in src, f"{name}/{kernel}"
                assert src.count("ldmatrix") == src.count("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {"), name


@pytest.mark.nvcc
@pytest.mark.parametrize("name", CASE_NAMES)
def test_program_kernels_do_not_spill_registers(name, compiled):
    """No kernel of the program spills registers to local memory on sm_90a (ptxas's report, kernel_info
    "resources"): a 64-bit value per wgmma descriptor once pushed the attention backward to 255 registers and
    200 spilled bytes, 12 % slower on the H100, with nothing else to show it."""
    for kernel in _cases()[name].kernels:
        usage = compiled(name, kernel, SM90A).kernel_info["resources"]
        assert usage and all(u["spill_stores"] == 0 for u in usage.values()), f"{name}/{kernel}: {usage}"


@pytest.mark.nvcc
@pytest.mark.parametrize("name", CASE_NAMES)
def test_ptxas_serializes_no_wgmma(name, compiled, monkeypatch):
    """ptxas fences no wgmma register operand itself (C7519) and serializes no wgmma (C7520). The int8-weight
    GEMMs convert their weight into registers after the warpgroup's fence unless TILEDSL_FENCE_AFTER_CONVERSION
    is on (opt-in until its GPU tests have run), and then ptxas serializes every wgmma of the M = 16 kernel."""
    for kernel in _cases()[name].kernels:
        if name.startswith("int8_weight"):
            monkeypatch.setenv("TILEDSL_FENCE_AFTER_CONVERSION", "1")
            built = tiledsl.compile(_cases()[name].kernels[kernel], out_idx=[], target=SM90A)
        else:
            built = compiled(name, kernel, SM90A)
        usage = built.kernel_info["resources"]
        assert not ptxas_notes(usage) & set(SERIALIZING_NOTES), f"{name}/{kernel}: {usage}"


@pytest.mark.nvcc
def test_the_weight_converted_after_the_fence_serializes_the_m16_kernel(compiled):
    """Why TILEDSL_FENCE_AFTER_CONVERSION exists (and what the test above would see without it): ptxas's C7520."""
    usage = compiled("int8_weight_m16", "main", SM90A).kernel_info["resources"]
    assert {"7519", "7520"} <= ptxas_notes(usage), usage


@pytest.mark.nvcc
@pytest.mark.parametrize("name", CASE_NAMES)
def test_every_wgmma_read_of_a_thread_written_tile_is_fenced(name, source):
    """No wgmma reads a shared tile the threads stored without a ``fence.proxy.async`` in between (fence_check.py:
    stale operands on the GPU otherwise)."""
    for kernel in _cases()[name].gemm_kernels:
        assert unfenced_wgmma_reads(source(name, kernel, SM90A)) == [], f"{name}/{kernel}"


@pytest.mark.nvcc
@pytest.mark.parametrize("name", CASE_NAMES)
def test_wgmma_operands_are_warp_uniform(name, source):
    """No wgmma operand is computed from ``threadIdx`` (passes/cuda/warp_index.py): nvcc would move each such
    descriptor to a uniform register before every wgmma (42 million moves in flash attention, 2026-12-06)."""
    for kernel in _cases()[name].gemm_kernels:
        assert thread_dependent_wgmma_operands(source(name, kernel, SM90A)) == [], f"{name}/{kernel}"


@pytest.mark.nvcc
@pytest.mark.parametrize("name,kernel", [pytest.param(n, k, marks=() if n in SM80_IN_CI else pytest.mark.slow)
                                         for n, k in GEMM_KERNELS])
def test_program_gemms_use_mma_sync_on_sm80(name, kernel, source):
    src = source(name, kernel, SM80)
    assert G.gemm_instruction(src) == "mma.sync" and "wgmma" not in src


@pytest.mark.nvcc
@pytest.mark.parametrize("name,kernel", [("flash_decode", "split"), ("attention_bwd", "main")])
def test_attention_programs_take_p_from_registers(name, kernel, source):
    """Products with P (or dS) as A take it from the wgmma accumulator's registers (no shared round trip)."""
    body = source(name, kernel, SM90A).split("__global__", 1)[1]
    assert "wgmma_f16_ss" in body and "wgmma_f16_rs" in body


# ---------------------------------------------------------------- CPU runs against torch
def _run_on_cpu(case):
    """Our kernels (LLVM target, outputs poisoned) and the torch peer on fresh inputs; both against the reference."""
    compiled = {k: tiledsl.compile(f, out_idx=[], target="llvm") for k, f in case.kernels.items()}
    inputs = case.make("cpu")
    outs = case.bind(compiled, inputs)()
    peer = case.peer(*inputs)
    for out, theirs, want in zip(outs, peer if isinstance(peer, (tuple, list)) else (peer,), case.ref(*inputs)):
        torch.testing.assert_close(out.float(), want, rtol=2e-2, atol=2e-2)
        torch.testing.assert_close(theirs.float(), want, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("S,num_split,block_N", [(256, 2, 64), (200, 3, 32)])
def test_flash_decode_on_cpu(S, num_split, block_N):
    """Grouped-query decoding (4 query heads per KV head), a ragged length split unevenly, against float32 torch."""
    _run_on_cpu(G.decode_case(2, 8, 2, S, 64, num_split, block_N=block_N))


def test_swiglu_case_on_cpu():
    """A one-kernel case: the output allocated from the kernel's last parameter, the peer on the same inputs."""
    n = 128
    _run_on_cpu(G.single_case(G.swiglu(n, n, n, block_M=64, block_N=64, block_K=32, stages=2, threads=128),
                              lambda dev: [torch.randn(n, n).half(), torch.randn(n, n).half() / 8,
                                           torch.randn(n, n).half() / 8],
                              lambda a, g, u: torch.nn.functional.silu(a.float() @ g.float()) * (a.float() @ u.float()),
                              lambda a, g, u: torch.nn.functional.silu(a @ g) * (a @ u), 3e-2))


def test_flash_decode_refuses_an_empty_split():
    with pytest.raises(ValueError, match="empty"):
        G.flash_decode_split(1, 4, 1, 9, 64, 4)  # slices of 3 keys: the 4th has none


@pytest.mark.parametrize("causal", [False, True])
def test_attention_backward_on_cpu(causal):
    """dQ, dK, dV of the three kernels (S = 160: the last 64-key block is ragged) against float32 torch."""
    _run_on_cpu(G.attention_bwd_case(1, 160, 2, 32, causal, block_M=32, block_N=64, threads=128))


def test_the_reference_check_names_what_is_off():
    """``assert_matches_reference`` (the GPU tests' check): poison left in an output, or an output or a peer result
    off by more than the case's tolerance, fails naming it; results within the tolerance pass."""
    want = torch.randn(64, 32)
    case = G.Case({}, None, lambda: (want, want), None, 1e-2)
    near = want + 1e-4
    G.assert_matches_reference(case, (near, near), [], peer=(near, near), names=("dK", "dV"))
    poisoned = near.clone()
    poisoned[3, 5] = float("nan")
    for outs, peer, named in [((near, poisoned), None, "dV"), ((near * 1.1, near), None, "dK: relative error"),
                              ((near, near), (near, want * 0.9), "dV: relative error")]:
        with pytest.raises(AssertionError, match=named):
            G.assert_matches_reference(case, outs, [], peer=peer, names=("dK", "dV"))
    with pytest.raises(AssertionError, match="output 1"):
        G.assert_matches_reference(case, (near, poisoned), [])


def test_attention_reference_matches_autograd():
    """The float32 reference of the backward is torch autograd's (so the tests above compare with torch)."""
    q, k, v, do = (torch.randn(2, 24, 3, 16) for _ in range(4))
    o, lse, dq, dk, dv = G.attention_fp32(q, k, v, do, True)
    leaves = [x.clone().transpose(1, 2).requires_grad_() for x in (q, k, v)]
    out = torch.nn.functional.scaled_dot_product_attention(*leaves, is_causal=True)
    grads = torch.autograd.grad(out, leaves, do.transpose(1, 2))
    torch.testing.assert_close(o, out.detach().transpose(1, 2), rtol=1e-4, atol=1e-5)
    for ours, theirs in zip((dq, dk, dv), grads):
        torch.testing.assert_close(ours, theirs.transpose(1, 2), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- GPU: every program at the small sizes
@pytest.mark.gpu
@pytest.mark.parametrize("name", CASE_NAMES)
def test_program_matches_torch_on_gpu(name):
    """Our kernels (outputs poisoned) and the torch peer both match the float32 reference."""
    compiled = G.check_case_on_gpu(name)
    if torch.cuda.get_device_capability() == (9, 0):
        for k in _cases()[name].gemm_kernels:
            assert G.gemm_instruction(compiled[k].get_kernel_source()) == SM90A_INSTRUCTION.get(name, "wgmma")


@pytest.mark.gpu
@pytest.mark.parametrize("case", [
    pytest.param(lambda: G.decode_case(2, 32, 8, 1000, 128, 3), id="decode_ragged"),
    pytest.param(lambda: G.attention_bwd_case(1, 320, 2, 128, False), id="bwd_ragged"),
    pytest.param(lambda: G.attention_bwd_case(2, 320, 2, 64, True, block_M=64, block_N=64, threads=128),
                 id="bwd_causal_ragged_one_warpgroup"),
])
def test_attention_programs_at_ragged_sizes_on_gpu(case):
    """Lengths that no block size divides (loads past the end read zero, keys past a slice are masked)."""
    case = case()
    compiled = {k: tiledsl.compile(f, out_idx=[], target="cuda") for k, f in case.kernels.items()}
    inputs = case.make("cuda")
    outs = case.bind(compiled, inputs)()
    torch.cuda.synchronize()
    for out, want in zip(outs, case.ref(*inputs)):
        assert not torch.isnan(out).any()
        torch.testing.assert_close(out.float(), want, rtol=2e-2, atol=2e-2)


def _bwd_grid():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from bench_bwd_configs import GRID
    return GRID


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("config", _bwd_grid(), ids=lambda c: "_".join(str(v) for v in c.values()))
def test_attention_backward_configs_on_gpu(config, causal):
    """Every tile config ``bench_bwd_configs.py`` times computes dQ, dK, dV correctly (a config the kernel refuses
    for shared memory is skipped: the refusal is the right answer). Two warpgroups on 64-key blocks split each
    gemm's columns between them, a layout no other program has."""
    case = G.attention_bwd_case(1, 512, 4, 128, causal, **config)
    try:
        compiled = {k: tiledsl.compile(f, out_idx=[], target="cuda") for k, f in case.kernels.items()}
    except tiledsl.TileDSLError as err:
        if "shared memory" not in str(err):
            raise
        pytest.skip(f"refused: {str(err)[:80]}")
    inputs = case.make("cuda")
    outs = case.bind(compiled, inputs)()
    torch.cuda.synchronize()
    G.assert_matches_reference(case, outs, inputs, names=("dQ", "dK", "dV"))
