"""``tilelang.testing``'s helpers that example programs call: a seed setter and pytest skip markers."""
from __future__ import annotations

import importlib.util
import random


def set_random_seed(seed: int = 42) -> None:
    """Seed Python's, NumPy's (when installed) and torch's random generators."""
    import torch

    random.seed(seed)
    torch.manual_seed(seed)
    if importlib.util.find_spec("numpy") is not None:
        import numpy

        numpy.random.seed(seed)


def _skip_unless(condition: bool, reason: str):
    import pytest

    return pytest.mark.skipif(not condition, reason=reason)


def _capability():
    import torch

    return torch.cuda.get_device_capability() if torch.cuda.is_available() else None


def requires_cuda(func=None):
    """Skip the test without a CUDA GPU."""
    mark = _skip_unless(_capability() is not None, "needs a CUDA GPU")
    return mark(func) if func is not None else mark


def requires_cuda_compute_version(major: int, minor: int = 0):
    """Skip the test unless the GPU's compute capability is exactly ``major.minor``."""
    return _skip_unless(_capability() == (major, minor), f"needs compute capability {major}.{minor}")


def requires_cuda_compute_version_ge(major: int, minor: int = 0):
    """Skip the test unless the GPU's compute capability is at least ``major.minor``."""
    cap = _capability()
    return _skip_unless(cap is not None and cap >= (major, minor), f"needs compute capability >= {major}.{minor}")


def requires_cuda_compute_version_le(major: int, minor: int = 0):
    """Skip the test unless the GPU's compute capability is at most ``major.minor``."""
    cap = _capability()
    return _skip_unless(cap is not None and cap <= (major, minor), f"needs compute capability <= {major}.{minor}")


requires_cuda_compute_version_eq = requires_cuda_compute_version


def requires_package(*names: str):
    """Skip the test unless every named Python package is installed."""
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    return _skip_unless(not missing, f"needs the packages {missing}")
