"""Dtype objects: ``T.float16``, ``T.float``, ``T.dtype("int8")`` usable wherever a dtype string is.

A :class:`dtype` is a ``str`` (so ``T.float16 == "float16"``, it hashes, pickles and goes to every TVM function
that takes a dtype name) and also one of TVMScript's dtype constructors (so ``T.float32(0)`` makes a constant,
``T.float32(x)`` a conversion, ``k: T.int32`` a scalar parameter and ``T.float32[4]`` a local vector, as before).

Importing this module also gives TVM expressions a ``.dtype`` (TVM 0.27 keeps it in ``.ty``), which Python
helpers that build TIR from loaded values read (``x.dtype`` on ``B[i, j]`` in int4 dequantize helpers).
"""
from __future__ import annotations

import tvm
from tvm.ir import expr as _ir_expr
from tvm.script import tirx as _tirx_script

_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "int": "int32", "long": "int64",
            "short": "int16", "uint": "uint32", "fp16": "float16", "fp32": "float32", "bf16": "bfloat16",
            "fp64": "float64",
            # NVIDIA's (and TileLang's on CUDA) e4m3 is OCP's E4M3 without infinities: TVM calls it float8_e4m3fn
            "float8_e4m3": "float8_e4m3fn",
            # TF32 is float32 in memory; TileLang's tensor-core GEMMs multiply it at 10-bit mantissa precision,
            # tiledsl at full float32 precision (same storage, results at least as accurate)
            "tfloat32": "float32"}

_TORCH_NAMES = {"bool": "bool", "float16": "float16", "float32": "float32", "float64": "float64",
                "bfloat16": "bfloat16", "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
                "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
                "float8_e4m3fn": "float8_e4m3fn", "float8_e5m2": "float8_e5m2",
                "float8_e4m3fnuz": "float8_e4m3fnuz", "float8_e5m2fnuz": "float8_e5m2fnuz",
                "float8_e8m0fnu": "float8_e8m0fnu"}


def canonical_name(value) -> str:
    """The TVM name of a dtype given as a string, a :class:`dtype`, a TVM constructor or DataType, a torch dtype,
    or Python's ``float``/``int``/``bool``."""
    if isinstance(value, str):
        return _ALIASES.get(str.__str__(value), str.__str__(value))
    if value is float:
        return "float32"
    if value is int:
        return "int32"
    if value is bool:
        return "bool"
    inner = getattr(value, "_dtype_str", None)  # TVMScript's own T.float16
    if inner is not None:
        return str(inner)
    text = str(value)
    if text.startswith("torch."):
        return text[len("torch."):]
    return _ALIASES.get(text, text)


class dtype(str, _tirx_script.DtypeConstructor):  # noqa: N801 - TileLang's name
    """A dtype: a string equal to its TVM name, also callable like TVMScript's ``T.float32``."""

    def __new__(cls, value="float32"):
        return str.__new__(cls, canonical_name(value))

    def __init__(self, value="float32"):
        name = str.__str__(self)
        template = getattr(_tirx_script, name, None)
        ffi_name = getattr(template, "_ffi_name", None)
        _tirx_script.DtypeConstructor.__init__(self, ffi_name, name)

    def __call__(self, expr=None):
        if self._ffi_name is None:
            if expr is None:
                return tvm.tirx.Var("v", str(self))
            return _convert(expr, str(self))
        return _tirx_script.DtypeConstructor.__call__(self, expr)

    def __reduce__(self):
        return (dtype, (str(self),))

    def __repr__(self):
        return f"T.{str(self)}" if hasattr(_tirx_script, str(self)) else f"T.dtype({str(self)!r})"

    def __str__(self):
        return str.__str__(self)

    __hash__ = str.__hash__

    def __eq__(self, other):
        if isinstance(other, str) or other is None:
            return str.__eq__(self, other) if isinstance(other, str) else False
        try:
            return str.__eq__(self, canonical_name(other))
        except Exception:
            return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    @property
    def bits(self) -> int:
        """Bits per element (per lane)."""
        return tvm.DataType(str(self)).bits

    @property
    def bytes(self) -> int:
        """Bytes per element (at least 1 for sub-byte types' storage)."""
        return max(1, (tvm.DataType(str(self)).bits * tvm.DataType(str(self)).lanes + 7) // 8)

    @property
    def lanes(self) -> int:
        """Vector lanes (1 for scalars)."""
        return tvm.DataType(str(self)).lanes

    def is_float(self) -> bool:
        """True for floating-point dtypes, float8/float4 included."""
        return str(self).startswith(("float", "bfloat"))

    def is_int(self) -> bool:
        """True for signed integers."""
        return str(self).startswith("int")

    def is_uint(self) -> bool:
        """True for unsigned integers."""
        return str(self).startswith("uint")

    def is_float8(self) -> bool:
        """True for the float8 formats."""
        return str(self).startswith("float8")

    def as_torch(self):
        """The torch dtype of the same name (TypeError where torch has none)."""
        return as_torch(self)


def _convert(expr, name):
    if isinstance(expr, (int, float, bool)):
        return tvm.tirx.const(expr, name)
    return tvm.tirx.Cast(name, expr)


def as_torch(value):
    """The torch dtype for a dtype given in any accepted form."""
    import torch

    name = canonical_name(value)
    torch_name = _TORCH_NAMES.get(name)
    result = getattr(torch, torch_name, None) if torch_name else None
    if result is None:
        raise TypeError(f"dtype {name!r} has no torch equivalent")
    return result


def make_dtype_namespace() -> dict:
    """``{name: dtype}`` for every dtype constructor TVMScript offers, plus TileLang's aliases (``T.float``)."""
    names = {n: dtype(n) for n in dir(_tirx_script)
             if isinstance(getattr(_tirx_script, n), _tirx_script.DtypeConstructor) and n == canonical_name(n)}
    for alias in ("float", "double", "half", "int", "long", "short", "uint", "float8_e4m3", "tfloat32"):
        names[alias] = dtype(alias)
    names["bool"] = names["boolean"] = dtype("bool")  # TVMScript's T.bool is a cast function, not a dtype
    for extra in ("int4", "uint4", "int2", "uint2", "int1", "uint1", "float4_e2m1fn"):
        names.setdefault(extra, dtype(extra))
    return names


# ---------------------------------------------------------------------------------------- ``x.dtype`` on TIR
def _expr_dtype(value):
    ty = getattr(value, "ty", None)
    if isinstance(ty, tvm.ir.PrimType):
        return dtype(str(ty))
    raise AttributeError(f"{type(value).__name__} has no scalar dtype (its type is {ty})")


_buffer_dtype = _ir_expr.Var.__dict__.get("dtype")


def _var_dtype(value):
    if isinstance(getattr(value, "ty", None), tvm.tirx.BufferType):
        return dtype(str(_buffer_dtype.fget(value))) if _buffer_dtype is not None else dtype(str(value.ty.dtype))
    return _expr_dtype(value)


if not getattr(_ir_expr.Expr, "_tiledsl_dtype", False):
    _ir_expr.Expr.dtype = property(_expr_dtype, doc="The scalar dtype of this expression (TileLang's x.dtype)")
    _ir_expr.Var.dtype = property(_var_dtype, doc="A buffer's element dtype, or a scalar variable's dtype")
    _ir_expr.Expr._tiledsl_dtype = True
if not hasattr(tvm.tirx, "PrimExpr"):  # TileLang's TVM spells the expression base class tirx.PrimExpr (annotations)
    tvm.tirx.PrimExpr = _ir_expr.Expr
