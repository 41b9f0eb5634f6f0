"""Buffers of a tile program: parameter annotations, allocations, dtypes, symbolic sizes, and regions of them."""
from __future__ import annotations

from tvm import tirx
from tvm.ir import TensorLoad, TensorRegion, Var
from tvm.tirx import IntImm
from tvm.script import tirx as _tirx_script
from tvm.script.ir_builder import tirx as _builder

from ..errors import TileProgramError
from .dtypes import canonical_name

SHARED_SCOPES = ("shared", "shared.dyn")
FRAGMENT_SCOPE = "local.fragment"
LOCAL_SCOPES = ("local", FRAGMENT_SCOPE)


def dtype_str(dtype) -> str:
    """Normalize a dtype given as a string, ``T.float16``, a torch dtype or a TVM dtype to its TVM name."""
    return canonical_name(dtype)


class _TensorAnnotation:
    """``T.Tensor((M, K), dtype)`` or ``T.Tensor[(M, K), dtype]``: a global tensor (a parameter's annotation, or
    a view of existing memory with ``data=``)."""

    def __call__(self, shape, dtype="float32", data=None, strides=None, elem_offset=None, scope="global",
                 **kwargs):
        if not isinstance(shape, (tuple, list)):
            shape = (shape,)
        from .pointers import POINTER_STORAGE, is_pointer_dtype

        if is_pointer_dtype(dtype):  # a table of addresses, as torch passes it (int64)
            dtype = POINTER_STORAGE
        if callable(dtype) and not isinstance(dtype, (str, type)) and getattr(dtype, "_dtype_str", None) is None:
            raise TileProgramError(f"T.Tensor: {getattr(dtype, '__name__', dtype)!r} is not a dtype; tensors of "
                                   f"pointers (T.ptr) are not supported yet, pass the tensors themselves")
        if data is not None:  # a view of another tensor's memory (``T.Tensor((M * N,), dtype, A.data)``)
            view = {k: v for k, v in (("strides", strides), ("elem_offset", elem_offset)) if v is not None}
            return _tirx_script.decl_buffer(tuple(shape), dtype_str(dtype), data=data, **view)
        extra = {k: v for k, v in (("strides", strides), ("elem_offset", elem_offset)) if v is not None}
        if scope != "global":
            extra["scope"] = scope
        return _tirx_script.Buffer(tuple(shape), dtype_str(dtype), **extra, **kwargs)

    def __getitem__(self, spec):
        if not isinstance(spec, tuple) or len(spec) != 2:
            raise TileProgramError(f"T.Tensor[...] takes a shape and a dtype, like T.Tensor[(M, K), T.float16]; "
                                   f"got {spec!r}")
        return self(spec[0], spec[1])


Tensor = _TensorAnnotation()
Buffer = Tensor


def SharedBuffer(shape, dtype="float32", **kwargs):
    """Annotation of a shared tile passed to a ``@T.macro`` (TileLang's name); macros take it as given."""
    return Tensor(shape, dtype, **kwargs)


def FragmentBuffer(shape, dtype="float32", **kwargs):
    """Annotation of a fragment passed to a ``@T.macro`` (TileLang's name); macros take it as given."""
    return Tensor(shape, dtype, **kwargs)


LocalBuffer = FragmentBuffer


def dynamic(name: str, dtype: str = "int32"):
    """A symbolic size (``M = T.dynamic("M")``) bound from the tensors' shapes at call time; several names at once
    (``seq_len, batch = T.dynamic("seq_len, batch")``) give a tuple of them."""
    names = [n for n in str(name).replace(",", " ").split() if n]
    if not names:
        raise TileProgramError(f"T.dynamic({name!r}): give one or more names, like T.dynamic(\"M\")")
    sizes = tuple(tirx.Var(n, dtype_str(dtype)) for n in names)
    return sizes[0] if len(sizes) == 1 and "," not in str(name) else sizes


symbolic = dynamic


def is_buffer(x) -> bool:
    """True for a buffer (in TVM 0.27 buffers are Vars whose type is a BufferType)."""
    return isinstance(x, Var) and isinstance(getattr(x, "ty", None), tirx.BufferType)


def constant_shape(shape, what: str) -> tuple[int, ...]:
    """Check that every extent of a tile is a compile-time integer and return them as ints."""
    if not isinstance(shape, (tuple, list)):
        shape = (shape,)
    out = []
    for i, s in enumerate(shape):
        if isinstance(s, bool):
            raise TileProgramError(f"{what}: extent {i} of the tile shape is a bool ({s})")
        if isinstance(s, int):
            out.append(s)
        elif isinstance(s, IntImm):
            out.append(int(s.value))
        else:
            raise TileProgramError(
                f"{what}: tile shape {tuple(shape)} is not constant: extent {i} is `{s}`. Tile sizes must be "
                f"Python ints known when the kernel is built (pass them as arguments of the kernel factory)")
        if out[-1] <= 0:
            raise TileProgramError(f"{what}: extent {i} of the tile shape {tuple(shape)} must be positive")
    return tuple(out)


def _alloc(shape, dtype, scope: str, what: str):
    return _builder.alloc_buffer(constant_shape(shape, what), dtype_str(dtype), scope=scope)


def alloc_shared(shape, dtype, scope: str = "shared.dyn"):
    """A tile in shared memory, visible to every thread of the block."""
    return _alloc(shape, dtype, scope, "T.alloc_shared")


def alloc_fragment(shape, dtype, scope: str = FRAGMENT_SCOPE):
    """A tile held in registers, spread over the block's threads (accumulators, reductions)."""
    return _alloc(shape, dtype, scope, "T.alloc_fragment")


def alloc_local(shape, dtype, scope: str = "local"):
    """Per-thread registers."""
    return _alloc(shape, dtype, scope, "T.alloc_local")


def _is_scalar_var(x) -> bool:
    shape = x.source.ty.shape
    return len(shape) == 1 and isinstance(shape[0], IntImm) and int(shape[0]) == 1 and buffer_scope(x.source) == "local"


def full_region(buf) -> TensorRegion:
    """The region covering a whole buffer."""
    return buf[tuple(slice(0, s) for s in buf.ty.shape)]


def region_extents(region: TensorRegion) -> list:
    """Extents of a region, as TVM expressions."""
    return [r.extent for r in region.region]


def as_region(x, what: str, like_extents=None) -> TensorRegion:
    """A buffer, a region (``A[0:64, k]``) or a tile origin (``A[by * 64, k * 32]``) as a TensorRegion.

    A tile origin has no extents of its own: they come from ``like_extents`` (the other operand), aligned to the
    right when the ranks differ (``T.copy(A[b, i, 0], A_s)`` with a 3-d A and a 2-d A_s).
    """
    if isinstance(x, TensorRegion):
        return x
    if is_buffer(x):
        return full_region(x)
    if isinstance(x, TensorLoad):
        if like_extents is None and _is_scalar_var(x):  # a T.alloc_var read as a scalar: its one-element buffer
            return full_region(x.source)
        if like_extents is None:
            raise TileProgramError(
                f"{what}: `{x}` gives only a start index; the other operand must be a whole buffer or a slice so "
                f"that the tile's extent is known")
        rank = len(x.indices)
        if len(like_extents) > rank:
            raise TileProgramError(
                f"{what}: the tile has {len(like_extents)} dimensions but `{x}` indexes only {rank}")
        ext = [1] * (rank - len(like_extents)) + list(like_extents)
        return x.source[tuple(slice(i, i + e) for i, e in zip(x.indices, ext))]
    raise TileProgramError(f"{what}: expected a buffer, a slice of one or a start index like A[i, j], got `{x}`")


def buffer_scope(buf) -> str:
    """The storage scope of a buffer ("global", "shared.dyn", "local.fragment", ...)."""
    return buf.scope()
