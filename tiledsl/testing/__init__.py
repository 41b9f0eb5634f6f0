"""``tilelang.testing`` as example programs and their test files use it.

Seed setting, pytest skip markers (CUDA compute capability, packages), ``main()`` for a test file run as a
script, and the performance-regression helpers ``process_func`` / ``regression`` (see :mod:`.perf_regression`).
"""
from __future__ import annotations

import importlib.util
import inspect
import operator
import random
import sys

from ..utils.tensor import torch_assert_close
from .perf_regression import process_func, regression

_COMPARE = {"ge": operator.ge, "gt": operator.gt, "le": operator.le, "lt": operator.lt, "eq": operator.eq}


def set_random_seed(seed: int = 42) -> None:
    """Seed Python's, NumPy's (when installed) and torch's random generators."""
    import torch

    random.seed(seed)
    torch.manual_seed(seed)
    if importlib.util.find_spec("numpy") is not None:
        import numpy

        numpy.random.seed(seed)


def main() -> None:
    """Run the calling test file's tests with pytest (``if __name__ == "__main__": tilelang.testing.main()``)."""
    import pytest

    caller_file = inspect.getsourcefile(sys._getframe(1))
    sys.exit(pytest.main([caller_file, *sys.argv[1:]]))


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


def requires_cuda_compute_version(major: int, minor: int = 0, mode: str = "ge"):
    """Skip the test unless the GPU's compute capability compares to ``major.minor`` as ``mode`` says.

    ``mode`` is one of ``"ge"`` (the default, as in TileLang), ``"gt"``, ``"le"``, ``"lt"``, ``"eq"``.
    """
    if mode not in _COMPARE:
        raise ValueError(f"requires_cuda_compute_version: mode must be one of {sorted(_COMPARE)}, not {mode!r}")
    cap = _capability()
    return _skip_unless(cap is not None and _COMPARE[mode](cap, (major, minor)),
                        f"needs a GPU of compute capability {mode} {major}.{minor}")


def requires_cuda_compute_version_ge(major: int, minor: int = 0):
    """Skip the test unless the GPU's compute capability is at least ``major.minor``."""
    return requires_cuda_compute_version(major, minor, "ge")


def requires_cuda_compute_version_gt(major: int, minor: int = 0):
    """Skip the test unless the GPU's compute capability is above ``major.minor``."""
    return requires_cuda_compute_version(major, minor, "gt")


def requires_cuda_compute_version_le(major: int, minor: int = 0):
    """Skip the test unless the GPU's compute capability is at most ``major.minor``."""
    return requires_cuda_compute_version(major, minor, "le")


def requires_cuda_compute_version_lt(major: int, minor: int = 0):
    """Skip the test unless the GPU's compute capability is below ``major.minor``."""
    return requires_cuda_compute_version(major, minor, "lt")


def requires_cuda_compute_version_eq(major: int, minor: int = 0):
    """Skip the test unless the GPU's compute capability is exactly ``major.minor``."""
    return requires_cuda_compute_version(major, minor, "eq")


def _requires_amd(func=None):
    """Skip the test: tiledsl compiles for NVIDIA GPUs and CPUs, never for AMD GPUs."""
    mark = _skip_unless(False, "needs an AMD GPU target, which tiledsl does not have")
    return mark(func) if func is not None else mark


requires_rocm = requires_cdna = requires_gfx950 = _requires_amd


def requires_package(*names: str):
    """Skip the test unless every named Python package is installed."""
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    return _skip_unless(not missing, f"needs the packages {missing}")


__all__ = ["set_random_seed", "main", "requires_cuda", "requires_cuda_compute_version",
           "requires_cuda_compute_version_ge", "requires_cuda_compute_version_gt", "requires_cuda_compute_version_le",
           "requires_cuda_compute_version_lt", "requires_cuda_compute_version_eq", "requires_rocm", "requires_cdna",
           "requires_gfx950", "requires_package", "torch_assert_close", "process_func", "regression"]
