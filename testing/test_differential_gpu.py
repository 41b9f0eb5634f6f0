"""The differential generator on an sm_90 GPU: every accepted program form and every one-change perturbation of it
(``testing/differential.py``, about 290 programs) is built for sm_90a and for the CPU, run on the same fresh random
inputs with the output poisoned (NaN), and compared element by element. A program the Hopper matchers accept must
compute what the CPU build of the same program computes (and, for the base forms, what torch computes in float64);
a refused one takes the generic CUDA path and is held to the same standard, reported separately.

    python -m pytest testing/test_differential_gpu.py -m gpu -q      # a few minutes on an H200

Builds run first in parallel worker processes (one per CPU core, up to 16) into the kernel cache; the test then
loads them and runs each case.
"""
import multiprocessing
import os
import zlib
from concurrent.futures import ProcessPoolExecutor

import pytest
import torch

import tiledsl
from differential import SM90A, all_cases, attention_reference, build_case, compare, gemm_reference, make_inputs, \
    matcher_accepts, narrowing_dtype, output_tolerance

pytestmark = pytest.mark.gpu


def _hopper() -> bool:
    return torch.cuda.is_available() and torch.cuda.get_device_capability()[0] == 9


def _run(case, builds) -> dict:
    """Run one case on the GPU and the CPU; a dict with the decision, the path taken and any mismatch."""
    prim = case.program()
    accepted, why = matcher_accepts(case)
    row = {"name": case.name, "accepted": accepted, "why": why, "problem": "", "compared": False}
    if case.undefined and not accepted:  # reads memory it never wrote: refused, and no result to compare
        return row
    if builds["gpu"] or builds["cpu"]:
        row["problem"] = f"build failed: gpu: {builds['gpu'] or 'ok'}; cpu: {builds['cpu'] or 'ok'}"
        row["build_failed"] = True
        return row
    gpu_kernel = tiledsl.compile(prim, target=SM90A)
    cpu_kernel = tiledsl.compile(prim, target="llvm")
    path = gpu_kernel.kernel_info.get("path")
    row["path"] = path
    if accepted != (path != "generic"):
        row["problem"] = f"the matcher {'accepted' if accepted else 'refused'} it but the build took the {path} path"
        return row
    cpu_args = make_inputs(prim, "cpu", seed=zlib.crc32(case.name.encode()))
    gpu_args = [a.cuda() for a in cpu_args]
    gpu_kernel(*gpu_args)
    torch.cuda.synchronize()
    cpu_kernel(*cpu_args)
    got, want = gpu_args[-1].cpu(), cpu_args[-1]
    loose = 1.0 if accepted else 4.0  # the generic path may accumulate in another order or dtype
    tol = output_tolerance(case, cpu_args, loose)
    if case.kind == "attention":
        tol = tol * (1 + want.double().abs())
    if not accepted:  # the bound above is derived from the unperturbed GEMM; allow the output's own rounding too
        tol = tol + 2 * torch.finfo(want.dtype).eps * want.double().abs().nan_to_num(0)
    row["problem"] = compare(got, want, tol, narrowing_dtype(case))
    row["compared"] = True
    if not row["problem"] and accepted and ":" not in case.name:  # a base form: torch as the third opinion
        if case.kind == "gemm":
            ref = gemm_reference(case.spec, cpu_args)
            ref = ref.to(got.dtype).double()
            row["problem"] = compare(got, ref, output_tolerance(case, cpu_args))
        else:
            ref = attention_reference(case.spec, *cpu_args[:3])
            tol = output_tolerance(case, cpu_args) * (1 + ref.abs())
            row["problem"] = compare(got, ref, tol)
        row["problem"] = f"differs from torch: {row['problem']}" if row["problem"] else ""
    return row


@pytest.fixture(scope="module")
def results():
    if not _hopper():
        pytest.skip("needs an sm_90 GPU")
    cases = all_cases()
    workers = max(1, min(16, (os.cpu_count() or 2) - 1))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "0")  # the whole-kernel matchers take what they accept
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            builds = dict(zip([c.name for c in cases], pool.map(build_case, [c.name for c in cases])))
        return [_run(case, builds[case.name]) for case in cases]


def _report(rows) -> str:
    return "\n".join(f"{r['name']}: {r['problem']} ({'accepted' if r['accepted'] else 'refused: ' + r['why']})"
                     for r in rows)


def test_every_accepted_program_computes_what_its_cpu_build_computes(results):
    bad = [r for r in results if r["accepted"] and r["problem"]]
    assert not bad, "accepted and wrong (or not built):\n" + _report(bad)


def test_at_least_200_perturbed_programs_are_compared_in_full(results):
    compared = [r for r in results if r["compared"] and ":" in r["name"]]
    assert len(compared) >= 200, len(compared)
    assert sum(r["accepted"] for r in compared) >= 50  # the accepted forms are well represented


def test_refused_programs_compute_what_their_cpu_build_computes_on_the_generic_path(results):
    bad = [r for r in results if not r["accepted"] and r["problem"] and not r.get("build_failed")]
    assert not bad, "generic CUDA path differs from the CPU:\n" + _report(bad)
