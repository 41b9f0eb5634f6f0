"""Tile operations: ``T.copy``, ``T.gemm``, ``T.fill``/``T.clear``, ``T.reduce_*``, ``T.atomic_add``.

Each checks its operands while the program is parsed (so a mistake is reported at the user's line) and returns a
call to the matching tile Op of ``tiledsl.ir``; the passes of each target lower it.
"""
from __future__ import annotations

import enum
import logging

from tvm import tirx
from tvm.ir import TensorLoad, TensorRegion
from tvm.tirx import IntImm
from tvm.sym import Analyzer

from ..errors import TileProgramError
from ..ir.ops import dtype_of, make_tile_call
from .buffers import (FRAGMENT_SCOPE, SHARED_SCOPES, as_region, buffer_scope, dtype_str, is_buffer,
                      region_extents)

_analyzer = Analyzer()
logger = logging.getLogger(__name__)


def _name(region: TensorRegion) -> str:
    return region.source.name


def _fmt(extents) -> str:
    return "(" + ", ".join(str(e) for e in extents) + ("," if len(extents) == 1 else "") + ")"


def _definitely_differ(a, b) -> bool:
    if isinstance(a, IntImm) and isinstance(b, IntImm):
        return int(a) != int(b)
    return _analyzer.can_prove(a != b)


def _non_unit(extents) -> list:
    return [e for e in extents if not (isinstance(e, IntImm) and int(e) == 1)]


def _origin_or_region(x) -> TensorRegion | None:
    """A region for buffers and slices; None for a tile origin (A[i, j]) whose extents come from the other side."""
    if isinstance(x, TensorLoad):
        return None
    return as_region(x, "T.copy")


def _load_whole_tile(src_r: TensorRegion, dst_r: TensorRegion) -> TensorRegion:
    """A load from a global region into a larger on-chip tile reads the tile's extents, as TileLang does.

    TileLang iterates a copy over the extents of its lower-level side (fragment > shared > global); for a load
    into a tile, that is the tile: rows past the named global region are read too (zeros past the tensor's edge),
    and programs mask them (TileLang's split-KV decoding copies a split's last, shorter block this way). Only loads
    are widened: a store never writes memory outside the region the program names. Returns ``src_r`` unchanged
    where the rule does not apply (the caller then reports the mismatch).
    """
    if buffer_scope(src_r.source) != "global" or buffer_scope(dst_r.source) == "global":
        return src_r
    dst_ext = iter(_non_unit(region_extents(dst_r)))
    widened = []
    for r in src_r.region:
        if isinstance(r.extent, IntImm) and int(r.extent) == 1:
            widened.append(slice(r.min, r.min + 1))
            continue
        tile_extent = next(dst_ext)
        if _analyzer.can_prove(tile_extent < r.extent):  # the tile is smaller than the region: a real mismatch
            return src_r
        widened.append(slice(r.min, r.min + tile_extent))
    logger.info("T.copy: the region of %s is %s; loading the tile's %s elements as TileLang does", _name(src_r),
                _fmt(region_extents(src_r)), _fmt(region_extents(dst_r)))
    return src_r.source[tuple(widened)]


def copy(src, dst, coalesced_width=None, disable_tma=False, eviction_policy=None):
    """Copy a tile between global, shared and fragment buffers, casting to the destination's dtype.

    Either side may be a buffer, a slice (``A[0:64, k]``) or a tile origin (``A[by * 64, k * 32]``). Where the tile
    runs past a global tensor's edge, loads read zero and stores are dropped. A load from a global region into a
    larger on-chip tile fills the whole tile (from the region's start), as TileLang does.
    """
    src_r, dst_r = _origin_or_region(src), _origin_or_region(dst)
    if src_r is None and dst_r is None:
        raise TileProgramError(
            "T.copy: both operands are start indices; one side must be a whole buffer or a slice to give the "
            "tile's shape")
    if src_r is None:
        src_r = as_region(src, "T.copy", region_extents(dst_r))
    if dst_r is None:
        dst_r = as_region(dst, "T.copy", region_extents(src_r))
    src_ext, dst_ext = _non_unit(region_extents(src_r)), _non_unit(region_extents(dst_r))
    if len(src_ext) == len(dst_ext) and any(_definitely_differ(a, b) for a, b in zip(src_ext, dst_ext)):
        src_r = _load_whole_tile(src_r, dst_r)
        src_ext = _non_unit(region_extents(src_r))
    if len(src_ext) != len(dst_ext) or any(_definitely_differ(a, b) for a, b in zip(src_ext, dst_ext)):
        raise TileProgramError(
            f"T.copy: the region of {_name(src_r)} is {_fmt(region_extents(src_r))} but the region of "
            f"{_name(dst_r)} is {_fmt(region_extents(dst_r))}; they must have the same shape (dimensions of "
            f"size 1 aside). Check the tile sizes (block_*) used for both")
    if disable_tma:  # this copy keeps cp.async / plain loads where its loop would otherwise load with TMA
        return make_tile_call("copy", [src_r, dst_r], disable_tma=True)
    return make_tile_call("copy", [src_r, dst_r])


def _require_scope(region: TensorRegion, allowed, op: str, role: str, hint: str) -> None:
    scope = buffer_scope(region.source)
    if scope not in allowed:
        raise TileProgramError(f"{op}: {role} {_name(region)} is in '{scope}' memory, expected one of "
                               f"{', '.join(allowed)}; {hint}")


def _const_extents(region: TensorRegion, op: str) -> list[int]:
    out = []
    for e in region_extents(region):
        if not isinstance(e, IntImm):
            raise TileProgramError(f"{op}: {_name(region)} has a non-constant extent {e}")
        out.append(int(e))
    return out


class GemmWarpPolicy(enum.IntEnum):
    """How ``T.gemm`` splits a tile over warps (a hint; targets that do not split ignore it)."""

    Square = 0
    FullRow = 1
    FullCol = 2


def gemm(A, B, C, transpose_A: bool = False, transpose_B: bool = False, policy=None, clear_accum: bool = False,
         k_pack: int = 1, wg_wait: int = 0):
    """``C += A @ B`` on tiles (``C = A @ B`` with ``clear_accum=True``); A and B may be transposed.

    A and B live in shared memory or fragments, C in a fragment; products accumulate in C's dtype.
    """
    a, b, c = (as_region(x, "T.gemm") for x in (A, B, C))
    operand_scopes = SHARED_SCOPES + (FRAGMENT_SCOPE, "local")
    hint = "copy global tiles into T.alloc_shared buffers first"
    _require_scope(a, operand_scopes, "T.gemm", "A", hint)
    _require_scope(b, operand_scopes, "T.gemm", "B", hint)
    _require_scope(c, (FRAGMENT_SCOPE, "local"), "T.gemm", "the accumulator C",
                   "allocate it with T.alloc_fragment")
    a_shape, b_shape, c_shape = (_non_unit_ints(_const_extents(r, "T.gemm")) for r in (a, b, c))
    for r, shape in ((a, a_shape), (b, b_shape), (c, c_shape)):
        if len(shape) != 2:
            raise TileProgramError(f"T.gemm: {_name(r)} must be a 2-d tile, got {_fmt(region_extents(r))}")
    M, K = a_shape[::-1] if transpose_A else a_shape
    Kb, N = b_shape[::-1] if transpose_B else b_shape
    if K != Kb or tuple(c_shape) != (M, N):
        raise TileProgramError(
            f"T.gemm: shapes do not agree: A {_name(a)} {_fmt(a_shape)}{' (transposed)' if transpose_A else ''}, "
            f"B {_name(b)} {_fmt(b_shape)}{' (transposed)' if transpose_B else ''}, C {_name(c)} {_fmt(c_shape)}; "
            f"expected A (M, K), B (K, N), C (M, N)")
    policy = GemmWarpPolicy.Square if policy is None else GemmWarpPolicy(policy)
    return make_tile_call("gemm", [a, b, c], transpose_A=bool(transpose_A), transpose_B=bool(transpose_B),
                          clear_accum=bool(clear_accum), policy=int(policy))


def _non_unit_ints(shape: list[int]) -> list[int]:
    kept = [s for s in shape if s != 1]
    return kept if len(kept) >= 2 else shape[-2:]


def fill(buffer, value):
    """Set every element of a tile (buffer or region) to ``value``; ``T.fill(A[i, j], v)`` sets the one element, as
    TileLang's fill reads an element access."""
    if isinstance(buffer, TensorLoad) and not any(isinstance(i, tirx.Ramp) for i in buffer.indices):
        buffer = as_region(buffer, "T.fill", like_extents=[1] * len(buffer.indices))
    region = as_region(buffer, "T.fill")
    dtype = str(region.source.ty.dtype)
    if isinstance(value, (int, float, bool)):
        value = tirx.const(value, dtype)
    elif dtype_of(value) != dtype:
        value = tirx.Cast(dtype, value)
    return make_tile_call("fill", [region, value])


def clear(buffer):
    """Set every element of a tile to zero."""
    return fill(buffer, 0)


_REDUCE_KINDS = ("sum", "max", "min", "abssum", "absmax")


def _reduce(kind: str, buffer, out, dim: int, clear: bool):
    op = f"T.reduce_{kind}"
    src, dst = as_region(buffer, op), as_region(out, op)
    for r, role in ((src, "input"), (dst, "output")):
        if buffer_scope(r.source) == "global":
            raise TileProgramError(f"{op}: the {role} {_name(r)} is a global tensor; reduce a fragment "
                                   f"(T.alloc_fragment) or shared tile, then T.copy the result out")
    src_shape = _const_extents(src, op)
    dst_shape = _const_extents(dst, op)
    if not isinstance(dim, int) or not -len(src_shape) <= dim < len(src_shape):
        raise TileProgramError(f"{op}: dim={dim!r} is out of range for the {len(src_shape)}-d input {_name(src)}")
    dim = dim % len(src_shape)
    kept = src_shape[:dim] + src_shape[dim + 1:]
    keepdim = src_shape[:dim] + [1] + src_shape[dim + 1:]
    if dst_shape != kept and dst_shape != keepdim and [s for s in dst_shape if s != 1] != [s for s in kept if s != 1]:
        raise TileProgramError(f"{op}: reducing {_name(src)} {_fmt(src_shape)} over dim {dim} gives {_fmt(kept)}, "
                               f"but the output {_name(dst)} is {_fmt(dst_shape)}")
    return make_tile_call("reduce", [src, dst], kind=kind, dim=dim, clear=bool(clear))


def reduce_sum(buffer, out, dim: int = -1, clear: bool = True):
    """``out = sum(buffer, dim)`` (``out += ...`` with ``clear=False``)."""
    return _reduce("sum", buffer, out, dim, clear)


def reduce_max(buffer, out, dim: int = -1, clear: bool = True):
    """``out = max(buffer, dim)`` (``out = max(out, ...)`` with ``clear=False``)."""
    return _reduce("max", buffer, out, dim, clear)


def reduce_min(buffer, out, dim: int = -1, clear: bool = True):
    """``out = min(buffer, dim)`` (``out = min(out, ...)`` with ``clear=False``)."""
    return _reduce("min", buffer, out, dim, clear)


def reduce_abssum(buffer, out, dim: int = -1, clear: bool = True):
    """``out = sum(|buffer|, dim)``."""
    return _reduce("abssum", buffer, out, dim, clear)


def reduce_absmax(buffer, out, dim: int = -1, clear: bool = True):
    """``out = max(|buffer|, dim)``."""
    return _reduce("absmax", buffer, out, dim, clear)


def atomic_add(dst, value, memory_order=None, return_prev: bool = False, use_tma: bool = False):
    """Atomically add ``value`` to ``dst``: one element (``T.atomic_add(C[i, j], v)``) or a whole tile
    (``T.atomic_add(C[by * 64, bx * 64], C_frag)``). ``use_tma`` (TileLang's TMA reduce-add) asks for a faster
    instruction with the same sums; tiledsl chooses the instruction itself."""
    if is_buffer(value) or isinstance(value, TensorRegion):
        src = as_region(value, "T.atomic_add")
        if isinstance(dst, TensorLoad):
            dst_r = as_region(dst, "T.atomic_add", region_extents(src))
        else:
            dst_r = as_region(dst, "T.atomic_add")
        if [e for e in _non_unit(region_extents(src))] and len(_non_unit(region_extents(src))) != len(
                _non_unit(region_extents(dst_r))):
            raise TileProgramError(f"T.atomic_add: {_name(src)} is {_fmt(region_extents(src))} but the "
                                   f"destination region is {_fmt(region_extents(dst_r))}")
        return make_tile_call("atomic_add", [dst_r, src])
    if not isinstance(dst, TensorLoad):
        raise TileProgramError("T.atomic_add: with a scalar value the destination must be one element, "
                               "like T.atomic_add(C[i, j], v)")
    dst_r = dst.source[tuple(slice(i, i + 1) for i in dst.indices)]
    dtype = str(dst.source.ty.dtype)
    if isinstance(value, (int, float)):
        value = tirx.const(value, dtype)
    elif dtype_of(value) != dtype:
        value = tirx.Cast(dtype, value)
    return make_tile_call("atomic_add", [dst_r, value])


def use_swizzle(panel_size: int = 8, order: str = "row", enable: bool = True):
    """Rasterize thread blocks in panels of ``panel_size`` for L2 reuse (a no-op where it does not apply)."""
    if order not in ("row", "col"):
        raise TileProgramError(f"T.use_swizzle: order must be 'row' or 'col', got {order!r}")
    if not isinstance(panel_size, int) or panel_size <= 0:
        raise TileProgramError(f"T.use_swizzle: panel_size must be a positive int, got {panel_size!r}")
    if not enable:
        return None
    return tirx.call_intrin("void", "tiledsl.use_swizzle", panel_size, 0 if order == "row" else 1)


def cast(value, dtype):
    """Convert ``value`` to ``dtype`` (TileLang's argument order)."""
    return tirx.Cast(dtype_str(dtype), value)
