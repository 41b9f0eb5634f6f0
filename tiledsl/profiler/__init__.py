"""Timing and inputs: ``do_bench`` (CUDA events + L2 flush + median, or wall clock on the CPU), ``TensorSupplyType``
and input supply, and ``bind`` (launch with preallocated, poisoned outputs)."""
from .bench import do_bench
from .launch import bind, output_tensors
from .supply import TensorSupplyType, coerce_supply_type, make_inputs, make_tensor

__all__ = ["do_bench", "bind", "output_tensors", "TensorSupplyType", "coerce_supply_type", "make_inputs",
           "make_tensor"]
