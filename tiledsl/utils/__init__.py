"""Helpers TileLang programs import from ``tilelang.utils`` (``TensorSupplyType``, ``tensor``)."""
from ..profiler import TensorSupplyType  # noqa: F401
from . import tensor  # noqa: F401

__all__ = ["TensorSupplyType", "tensor"]
