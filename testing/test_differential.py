"""The differential generator's CI part (no GPU): for a fixed sample of the accepted Hopper program forms and their
one-change perturbations, the matchers decide as expected (every perturbation that changes what the program
computes is refused, with its reason); a few build for sm_90a with nvcc and record the path they took; plain GEMMs
give torch's result on the CPU. ``test_differential_gpu.py`` runs every case on the GPU against the CPU."""
import pytest
import torch

import tiledsl
from differential import ACCEPT, SM90A, case_by_name, compare, gemm_reference, make_inputs, matcher_accepts, \
    output_tolerance, sample_cases

pytestmark = pytest.mark.usefixtures("hopper_shortcut")  # these test the whole-kernel matchers

SAMPLE = sample_cases()


@pytest.mark.parametrize("case", SAMPLE, ids=[c.name for c in SAMPLE])
def test_matcher_decides_as_expected(case):
    accepted, why = matcher_accepts(case)
    assert accepted == (case.expect == ACCEPT), why or "accepted"


# issue 14's items 1-5: the programs the matchers used to accept and run wrongly, and the reason they are refused now
ISSUE_ITEMS = [
    ("gemm/f16:clear_accum", "clear_accum=True"),                              # 1
    ("gemm/f16:grid_n_half", "the grid launches 1 blocks over N"),              # 2
    ("gemm/f16:store_half_rows", "covers part of C_f"),                         # 3
    ("gemm/f16:gemm_half_rows", "T.gemm covers part of A_s"),                   # 3
    ("gemm/f16_epi_f32_staged:staged_float16", "rounds the result to float16"),  # 4
    ("gemm/f16:a_tile_other_16bit", "differs from its tensor's"),               # 4
    ("attention/f16:pre_store_stats", "the store to logsum before the KV loop"),  # 5
    ("attention/f16:q_tile_other_16bit", "the Q tile is bfloat16"),
]


@pytest.mark.parametrize("name,reason", ISSUE_ITEMS)
def test_issue_programs_are_refused_with_their_reason(name, reason):
    accepted, why = matcher_accepts(case_by_name(name))
    assert not accepted and reason in why, why


def test_sample_covers_every_perturbation_kind():
    names = {c.name.split(":")[1] for c in SAMPLE if ":" in c.name}
    assert len(SAMPLE) >= 50 and {"clear_accum", "grid_n_half", "store_half_rows", "staged_float16",
                                  "pre_store_stats", "bound_in_scalar"} <= names


@pytest.mark.nvcc
@pytest.mark.parametrize("name,path", [
    ("gemm/f16:block_K_32", "hopper_gemm"),
    ("attention/bf16_gqa_causal_tl", "hopper_attention"),
    ("gemm/f16:clear_accum", "generic"),
])
def test_sample_builds_for_sm90a_on_the_path_the_matcher_chose(name, path):
    kernel = tiledsl.compile(case_by_name(name).program(), target=SM90A)
    info = kernel.kernel_info
    assert info["path"] == path, info
    if path == "hopper_gemm":  # the kernel steps K by 64 whatever the program's block_K: the metadata says so
        assert (info["block_K"], info["program_block_K"]) == (64, 32) and "wgmma" in kernel.get_kernel_source()
        assert info["num_sms"] > 0 and info["num_sms_from"]
    if path == "generic":
        assert "clear_accum" in info["hopper_gemm_refused"]


@pytest.mark.parametrize("name", ["gemm/f16_ragged", "gemm/bf16_tb_swz", "gemm/f16_epi_f32_staged"])
def test_accepted_gemm_forms_compute_torchs_result_on_the_cpu(name):
    case = case_by_name(name)
    spec = dict(case.spec, M=min(case.spec.get("M", 256), 200), N=128, K=192)  # small: CI time
    case = type(case)(case.name, case.kind, spec, case.expect)
    kernel = tiledsl.compile(case.program(), target="llvm")
    args = make_inputs(case.program(), "cpu")
    kernel(*args)
    want = gemm_reference(spec, args).to(args[-1].dtype).double()
    assert compare(args[-1], want, output_tolerance(case, args)) == ""
