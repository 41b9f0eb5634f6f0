"""Tensors of pointers (``T.Tensor([n], T.ptr)``) and tensors made from a pointer (``T.make_tensor``).

TileLang programs pass tables of device addresses (``torch.tensor([t.data_ptr() for t in ts], dtype=int64)``)
and view one entry as a tensor inside the kernel: ``A = T.make_tensor(A_ptrs[g], (M, K), dtype)``. tiledsl
stores a pointer table as int64 (what torch passes) and makes the view a buffer whose data pointer is the
entry, reinterpreted as an address.
"""
from __future__ import annotations

from tvm import ir, tirx
from tvm.script import tirx as _tirx_script
from tvm.script.ir_builder import tirx as _builder

from ..errors import TileProgramError
from .buffers import dtype_str

POINTER_STORAGE = "int64"


def ptr(dtype=None, storage_scope: str = "global", *, is_size_var: bool = False):
    """``T.ptr``: as a tensor's dtype (``T.Tensor([n], T.ptr)``), a table of addresses (int64); called with a
    dtype, TVMScript's pointer variable."""
    if dtype is None:
        raise TileProgramError("T.ptr() needs a dtype; as a tensor's dtype write T.Tensor([n], T.ptr)")
    return _tirx_script.ptr(dtype_str(dtype), storage_scope)


def is_pointer_dtype(dtype) -> bool:
    """True for ``T.ptr`` (or TVMScript's ``ptr``) given as a tensor's dtype."""
    return dtype is ptr or dtype is _tirx_script.ptr


def make_tensor(address, shape, dtype="float32", strides=None):
    """``T.make_tensor(A_ptrs[g], (M, K), dtype)``: the tensor of ``shape`` and ``dtype`` at ``address`` (an int64
    loaded from a ``T.ptr`` table, or a pointer), contiguous unless ``strides`` are given."""
    if not isinstance(shape, (tuple, list)):
        shape = (shape,)
    name = dtype_str(dtype)
    if not isinstance(address, tirx.Expr) or isinstance(address, (tirx.IntImm, tirx.FloatImm)):
        raise TileProgramError(f"T.make_tensor: the address must be an entry of a T.ptr table (like A_ptrs[i]), "
                               f"got `{address}`")
    if str(address.ty) in ("int64", "uint64"):
        address = tirx.reinterpret("handle", address)
    elif str(address.ty) != "handle" and not isinstance(address.ty, ir.PointerType):
        raise TileProgramError(f"T.make_tensor: the address `{address}` is a {address.ty}; a pointer table holds "
                               f"int64 addresses (T.Tensor([n], T.ptr))")
    data = tirx.Var("ptr", address.ty)
    _builder.Bind(address, var=data)
    extra = {"strides": tuple(strides)} if strides is not None else {}
    return _tirx_script.decl_buffer(tuple(shape), name, data=data, **extra)
