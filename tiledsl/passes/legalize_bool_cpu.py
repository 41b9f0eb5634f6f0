"""LegalizeBoolCPU: comparisons, min and max of ``bool`` values that TVM's LLVM code generator can emit.

TVM 0.27 gives ``bool`` its own type code (DLPack's kDLBool), and its LLVM code generator takes every comparison
whose operands are neither signed nor unsigned integers for a float comparison: ``mask[k] != 0`` on a ``T.bool``
fragment (``mask[k] != T.bool(False)`` after the front end) became ``fcmp one i1 %m, false``, which fails LLVM
verification, scalar or vector alike; ``<``, ``<=``, ``>``, ``>=`` and ``T.min`` / ``T.max`` of bools stop the build
with "Check failed: t.MatchesCode(kDLFloat)". This pass compares, and takes the min or max of, bool operands as
``uint8`` values 0 and 1 (False < True, as in C++ and torch), casting a min or max back to bool.

CUDA needs none of this (C++ compares ``bool`` values itself), so the pass runs on the CPU target only.

Expects: tile ops lowered (runs after LowerTileOpsCPU, so the comparisons the lowering makes are covered too).
Guarantees: no EQ, NE, LT, LE, GT, GE, Min or Max has bool operands.
"""
from __future__ import annotations

import tvm
import tvm_ffi
from tvm import tirx

from ..ir.ops import dtype_of
from .pass_errors import keep_tiledsl_errors

_COMPARISONS = (tirx.EQ, tirx.NE, tirx.LT, tirx.LE, tirx.GT, tirx.GE)
_MIN_MAX = (tirx.Min, tirx.Max)


def _is_bool(dtype: str) -> bool:
    return tvm.DataType(dtype).type_code == tvm.DataType("bool").type_code


def _as_uint8(dtype: str) -> str:
    """The uint8 dtype with the lanes of the bool dtype ``dtype`` ("bool" -> "uint8", "boolx8" -> "uint8x8")."""
    lanes = tvm.DataType(dtype).lanes
    return "uint8" if lanes == 1 else f"uint8x{lanes}"


def _on_bool_operands(expr):
    """A comparison, min or max of bool operands done on their uint8 values (see the module doc)."""
    operand = dtype_of(expr.a)
    if not _is_bool(operand):
        return expr
    wide = _as_uint8(operand)
    result = type(expr)(tirx.Cast(wide, expr.a), tirx.Cast(wide, expr.b))
    return tirx.Cast(operand, result) if isinstance(expr, _MIN_MAX) else result


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.LegalizeBoolCPU")
@keep_tiledsl_errors
def LegalizeBoolCPU(func, mod, ctx):
    """Compare bools, and take their min and max, as uint8 values (CPU target; see the module doc)."""
    return func.with_body(tvm_ffi.structural_map(
        func.body, [(cls, _on_bool_operands) for cls in _COMPARISONS + _MIN_MAX], order="post"))
