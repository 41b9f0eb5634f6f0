"""Kernel parameters: names, shapes (ints or symbolic names), dtypes; and how outputs get their shapes."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from tvm import tirx

from ..errors import CompileError
from ..passes.legalize_int4_cpu import STORAGE as _FOUR_BIT_STORAGE, packed_last_dim
from ..passes.split_k import ZEROED_WORKSPACES_ATTR

MAX_ELEMENTS_INT32 = 2**31 - 2**16
MAX_ELEMENTS_INT64 = 2**63 - 2**32

_TORCH_DTYPES = {
    "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64,
    "int8": torch.int8, "uint8": torch.uint8, "int16": torch.int16, "int32": torch.int32, "int64": torch.int64,
    "bool": torch.bool,
}
for _name in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"):
    if hasattr(torch, _name):
        _TORCH_DTYPES[_name] = getattr(torch, _name)
#: 4-bit integer tensors are passed packed, two values per byte, in tensors of these dtypes (as in TileLang)
_PACKED_STORAGE = {four_bit: _TORCH_DTYPES[byte] for four_bit, byte in _FOUR_BIT_STORAGE.items()}


def torch_dtype(dtype: str) -> torch.dtype:
    """The torch dtype for a TVM dtype name (for ``int4`` / ``uint4``, the int8 / uint8 of their packed storage)."""
    if dtype in _PACKED_STORAGE:
        return _PACKED_STORAGE[dtype]
    try:
        return _TORCH_DTYPES[dtype]
    except KeyError:
        raise CompileError(f"dtype {dtype!r} has no torch equivalent") from None


@dataclass(frozen=True)
class KernelParam:
    """One parameter of a kernel: a tensor (``shape`` set) or a scalar (``shape`` None)."""

    name: str
    dtype: str
    shape: tuple | None  # ints and symbolic names (str)
    index_dtype: str = "int32"  # "int64" when a symbolic size of this tensor is an int64 T.dynamic
    workspace: bool = False  # a T.alloc_global workspace: allocated by every call, neither passed nor returned
    zeroed: bool = False  # a workspace the kernel leaves zero (split-K's counters): zeroed once, kept between calls

    @property
    def has_dynamic_size(self) -> bool:
        """True for a tensor with a symbolic (``T.dynamic``) size."""
        return self.shape is not None and any(isinstance(s, str) for s in self.shape)

    @property
    def max_elements(self) -> int:
        """The most elements a tensor with dynamic sizes may hold: its 32-bit indices, computed from sizes rounded
        up to whole tiles, must not overflow (one 64K-element tile of headroom below 2^31)."""
        return MAX_ELEMENTS_INT64 if self.index_dtype == "int64" else MAX_ELEMENTS_INT32

    @property
    def is_tensor(self) -> bool:
        return self.shape is not None

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch_dtype(self.dtype)

    @property
    def packed(self) -> bool:
        """True for a 4-bit tensor, passed packed: two values per byte along its last dimension."""
        return self.is_tensor and self.dtype in _PACKED_STORAGE

    @property
    def storage_shape(self) -> tuple | None:
        """The shape of the torch tensor passed for this parameter: ``shape``, with the last dimension halved for
        a packed 4-bit tensor (element 2i in the low nibble of byte i, 2i + 1 in the high nibble)."""
        if not self.packed:
            return self.shape
        return (*self.shape[:-1], self.shape[-1] // 2)

    def describe(self) -> str:
        """``float16 tensor of shape (M, 128)``; a 4-bit tensor says how it is passed."""
        if not self.is_tensor:
            return f"{self.dtype} scalar"
        text = f"{self.dtype} tensor of shape {_shape_text(self.shape)}"
        if self.packed:
            storage = "an int8" if self.dtype == "int4" else "a uint8"
            text += f" (passed packed as {storage} tensor of shape {_shape_text(self.storage_shape)}, two values " \
                    f"per byte)"
        return text

    def to_json(self) -> dict:
        return asdict(self) | {"shape": list(self.shape) if self.shape is not None else None}

    @staticmethod
    def from_json(data: dict) -> "KernelParam":
        shape = data["shape"]
        return KernelParam(data["name"], data["dtype"], tuple(shape) if shape is not None else None,
                           data.get("index_dtype", "int32"), bool(data.get("workspace", False)),
                           bool(data.get("zeroed", False)))


def _shape_text(shape) -> str:
    dims = ", ".join(str(s) for s in shape)
    return f"({dims}{',' if len(shape) == 1 else ''})"


def _dim(expr, param_name: str):
    if isinstance(expr, tirx.IntImm):
        return int(expr)
    if isinstance(expr, tirx.Var):
        return expr.name
    raise CompileError(f"parameter {param_name}: shape dimension `{expr}` must be an int or a plain symbolic "
                       f"size (T.dynamic)")


def params_of(func: tirx.PrimFunc, workspaces=()) -> list[KernelParam]:
    """The parameters of a PrimFunc in order; those named in ``workspaces`` are T.alloc_global workspaces, and
    those the function's ``ZEROED_WORKSPACES_ATTR`` attribute names are kept zeroed between calls."""
    zeroed = {str(n) for n in (func.attrs or {}).get(ZEROED_WORKSPACES_ATTR, [])}
    out = []
    for p in func.params:
        if isinstance(getattr(p, "ty", None), tirx.BufferType):
            wide = any(isinstance(s, tirx.Var) and str(s.ty) == "int64" for s in p.ty.shape)
            if str(p.ty.dtype) in _PACKED_STORAGE:
                packed_last_dim(p.name, str(p.ty.dtype), list(p.ty.shape))  # a packable last dimension
            out.append(KernelParam(p.name, str(p.ty.dtype), tuple(_dim(s, p.name) for s in p.ty.shape),
                                   "int64" if wide else "int32", p.name in workspaces, p.name in zeroed))
        else:
            out.append(KernelParam(p.name, str(p.ty), None))
    return out


def normalize_out_idx(out_idx, n_params: int) -> list[int]:
    """``out_idx`` (None, an int or a list, negatives counting from the end) as sorted non-negative ints."""
    if out_idx is None:
        return []
    items = [out_idx] if isinstance(out_idx, int) else list(out_idx)
    norm = []
    for i in items:
        if not isinstance(i, int) or not -n_params <= i < n_params:
            raise CompileError(f"out_idx {out_idx!r}: index {i!r} is out of range for a kernel with {n_params} "
                               f"parameters")
        norm.append(i % n_params)
    if len(set(norm)) != len(norm):
        raise CompileError(f"out_idx {out_idx!r} names a parameter twice")
    return sorted(norm)


@dataclass(frozen=True)
class OutputPlan:
    """How to allocate one output: its dtype and, per dimension, an int or the (input, dim) it is read from."""

    param_index: int
    dtype: torch.dtype
    dims: tuple  # int | (input position, dim)


def workspace_indices(params: list[KernelParam]) -> list[int]:
    """Positions of the T.alloc_global workspaces among the parameters."""
    return [i for i, p in enumerate(params) if p.workspace]


def plan_outputs(params: list[KernelParam], out_idx: list[int]) -> list[OutputPlan]:
    """Allocation plans of the outputs (``out_idx``) and of the workspaces, by position; a symbolic size must
    appear in some input's shape."""
    out_idx = sorted(set(out_idx) | set(workspace_indices(params)))
    inputs = [i for i in range(len(params)) if i not in out_idx]
    where = {}
    for pos, i in enumerate(inputs):
        p = params[i]
        for d, s in enumerate(p.shape or ()):
            if isinstance(s, str):
                where.setdefault(s, (pos, d))
    plans = []
    for i in out_idx:
        p = params[i]
        if not p.is_tensor:
            raise CompileError(f"out_idx names parameter {p.name}, which is a scalar, not a tensor")
        dims = []
        for s in p.storage_shape:
            if isinstance(s, str):
                if s not in where and p.workspace:
                    raise CompileError(f"workspace {p.name} (T.alloc_global) has the symbolic size {s}, which no "
                                       f"input tensor's shape gives; size it from the inputs' sizes")
                if s not in where:
                    raise CompileError(f"output {p.name} has symbolic size {s}, which no input tensor's shape "
                                       f"gives; pass {p.name} as an input instead of naming it in out_idx")
                dims.append(where[s])
            else:
                dims.append(s)
        plans.append(OutputPlan(i, p.torch_dtype, tuple(dims)))
    return plans
