"""GPU tests: every example program runs on the GPU and matches torch (float32 reference, output poisoned).

GEMMs run with the Hopper whole-kernel specialization off, so these test the generic CUDA lowering (mma.sync);
the Hopper path has its own tests.
"""
import pytest
import torch

from test_cuda_programs import cases, run_case


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(cases()))
def test_matches_torch_on_gpu(name, monkeypatch):
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    got, want, tol = run_case(name, "cuda", "cuda")
    torch.cuda.synchronize()
    assert not torch.isnan(got.float()).any(), "some outputs were never written"
    torch.testing.assert_close(got.float(), want, rtol=tol, atol=tol)
