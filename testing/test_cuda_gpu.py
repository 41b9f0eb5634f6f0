"""GPU tests: every example program runs on the GPU and matches torch (float32 reference, output poisoned)."""
import pytest
import torch

from test_cuda_programs import cases, run_case


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(cases()))
def test_matches_torch_on_gpu(name):
    got, want, tol = run_case(name, "cuda", "cuda")
    torch.cuda.synchronize()
    assert not torch.isnan(got.float()).any(), "some outputs were never written"
    torch.testing.assert_close(got.float(), want, rtol=tol, atol=tol)
