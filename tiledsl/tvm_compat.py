"""``from tilelang import tvm``: TVM as TileLang programs see it.

TileLang ships a fork of TVM whose ``tvm.testing`` also has pytest markers such as ``requires_package``, which
example programs use as decorators. ``tiledsl.tvm`` is the real ``tvm`` module seen through a thin wrapper whose
``testing`` attribute adds tiledsl's markers (``tiledsl.testing``) to TVM's own ``tvm.testing`` (imported on
first use); everything else is TVM's, unchanged. TVM itself is not modified.
"""
from __future__ import annotations

import importlib
import types

import tvm as _tvm

from . import testing as _tiledsl_testing

_OURS = ("requires_package", "requires_cuda", "requires_cuda_compute_version", "requires_cuda_compute_version_ge",
         "requires_cuda_compute_version_gt", "requires_cuda_compute_version_lt",
         "requires_cuda_compute_version_le", "requires_cuda_compute_version_eq", "set_random_seed")


class _Testing(types.ModuleType):
    """``tvm.testing`` with TileLang's markers added."""

    def __getattr__(self, name):
        if name in _OURS:
            return getattr(_tiledsl_testing, name)
        return getattr(importlib.import_module("tvm.testing"), name)


class _TVM(types.ModuleType):
    """The ``tvm`` module, but with :class:`_Testing` as ``testing``."""

    def __getattr__(self, name):
        return getattr(_tvm, name)

    def __dir__(self):
        return sorted(set(dir(_tvm)) | {"testing"})


tvm = _TVM("tvm", _tvm.__doc__)
tvm.__file__ = getattr(_tvm, "__file__", None)
tvm.__path__ = list(getattr(_tvm, "__path__", []))
tvm.testing = _Testing("tvm.testing", "tvm.testing with tiledsl's markers (requires_package, requires_cuda, ...)")
