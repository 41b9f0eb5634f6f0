"""Shared test set-up: a private cache per test session, seeded inputs, and markers for GPU/nvcc tests."""
import os
import shutil

import pytest
import torch

os.environ.setdefault("TVM_BACKTRACE", "1")


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Every test session gets its own cache dir, so tests never read a developer's cache."""
    if "TILEDSL_TEST_KEEP_CACHE_DIR" not in os.environ:
        os.environ["TILEDSL_CACHE_DIR"] = str(tmp_path_factory.mktemp("tiledsl-cache"))
    yield


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def pytest_collection_modifyitems(config, items):
    has_gpu = torch.cuda.is_available()
    has_nvcc = shutil.which("nvcc") is not None or bool(os.environ.get("TILEDSL_NVCC"))
    for item in items:
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))
        if "nvcc" in item.keywords and not has_nvcc:
            item.add_marker(pytest.mark.skip(reason="needs nvcc"))


def poisoned_like(t: torch.Tensor) -> torch.Tensor:
    """A tensor like ``t`` filled with NaN (or -123 for integers), so unwritten outputs are caught."""
    if t.dtype.is_floating_point:
        return torch.full_like(t, float("nan"))
    return torch.full_like(t, -123)
