"""Global -> shared tile copies as TMA loads (``cp.async.bulk.tensor``, sm_90a), for PipelineCUDA's mbarrier ring.

``plan_load(copy, layouts, thread_vars)`` decides whether one producer ``T.copy(global region -> whole shared
tile)`` can be a TMA load and returns its :class:`TMALoad` (or None: the loop keeps cp.async). It qualifies when:

* both sides have the same dtype (1, 2, 4 or 8 bytes), the destination is a whole 2-d ``shared.dyn`` tile and the
  source region spans exactly the tile's two extents, in order, the tile's rows along the tensor's last dimension;
  or a whole 1-d tile (``TILEDSL_TMA_VECTORS``, the default: row statistics such as the attention backward's
  log-sum-exp) filled from a run along the tensor's last dimension, taken as a plain tile of one row;
* the tensor is contiguous and its last extent is a constant whose row is a whole number of 16 bytes (TMA's
  global strides), the region's origin does not depend on the thread index;
* the tile's layout is one TMA can write: the wgmma tile layout (:class:`WGMMATile`, 128- or 64-byte swizzle,
  one box per 128-byte panel) or no layout at all (a plain row-major tile, no swizzle, rows of whole 16 bytes, in
  a kernel whose wgmma tiles put every shared tile in the 1024-byte aligned pool); an ldmatrix (XOR-swizzled)
  tile does not qualify;
* every box dimension is at most 256 elements.

Out-of-bounds parts of a box (ragged M, N, K, negative origins) are zero-filled by the hardware, as the plain copy
reads zeros there. The tensor map of each (tensor, box, swizzle) is encoded once in the host part of the kernel
(``runtime.cuTensorMapEncodeTiled``, see :func:`host_statements`) and passed as a ``__grid_constant__`` parameter.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tvm import tirx
from tvm.script import tirx as T

from ..lowering_options import schedule
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import seq, uses_var
from ..tile_lowering_utils import const_ints, dtype_bits
from .smem_swizzle import WGMMATile

HOST_PROLOGUE_ATTR = "tiledsl.tensor_map_prologue"  # function attribute: host statements PlaceTensorMaps inserts
_SWIZZLE_CODE = {0: 0, 64: 2, 128: 3}  # CUtensorMapSwizzle
_L2_PROMOTION_256B = 3
_MAX_BOX = 256
_TMA_DTYPE = {"float8_e4m3fn": "uint8", "float8_e5m2": "uint8"}  # TMA moves bytes; others keep their name


@dataclass
class TMALoad:
    """One producer copy as TMA loads: its tensor map and one box per 128-byte panel of the tile."""

    src: object  # the global tensor (a buffer var)
    dst: object  # the shared tile before staging
    box: tuple  # box extents, innermost first (one panel wide)
    swizzle: int  # bytes: 0, 64 or 128
    panels: int  # boxes per tile, side by side along the tile's rows
    panel_elems: int
    nbytes: int  # bytes the whole tile receives (the mbarrier's expected transaction count)
    map_var: object = field(default=None)

    def key(self):
        """Loads with the same key share one tensor map."""
        return (self.src, self.box, self.swizzle)


def _elem_bytes(dtype: str) -> int:
    """Bytes of a TMA element; 0 for a type TMA does not move here (sub-byte, bool)."""
    if dtype == "bool":
        return 0
    bits = dtype_bits(dtype)
    return bits // 8 if bits in (8, 16, 32, 64) else 0


def plan_load(copy, layouts: dict, thread_vars) -> TMALoad | None:
    """The TMA plan of producer ``copy`` (an Evaluate of ``T.copy``), or None when it does not qualify."""
    src, dst = copy.value.args
    if copy.value.attrs is not None and "disable_tma" in copy.value.attrs and bool(copy.value.attrs["disable_tma"]):
        return None  # T.copy(..., disable_tma=True)
    sbuf, dbuf = src.source, dst.source
    dtype = str(dbuf.ty.dtype)
    ebytes = _elem_bytes(dtype)
    if not ebytes or str(sbuf.ty.dtype) != dtype or dbuf.scope() != "shared.dyn" or sbuf.scope() != "global":
        return None
    if sbuf.ty.strides is not None and len(sbuf.ty.strides) > 0:
        return None
    try:
        shape = const_ints(list(dbuf.ty.shape), "T.copy")
        ext_d = const_ints([r.extent for r in dst.region], "T.copy")
        ext_s = const_ints([r.extent for r in src.region], "T.copy")
    except Exception:  # noqa: BLE001 - a symbolic tile never takes TMA
        return None
    if len(shape) == 1 and schedule("TILEDSL_TMA_VECTORS"):  # a vector: a plain tile of one row
        shape, ext_d = [1] + shape, [1] + ext_d
    if len(shape) != 2 or ext_d != shape or any(not (isinstance(r.min, tirx.IntImm) and int(r.min) == 0)
                                                 for r in dst.region):
        return None
    if [e for e in ext_s if e != 1] != [e for e in shape if e != 1] or ext_s[-1] != shape[-1] or \
            len(sbuf.ty.shape) > 5:
        return None
    if len([e for e in ext_s if e != 1]) < len([e for e in shape if e != 1]):
        return None
    inner = sbuf.ty.shape[-1]
    if not isinstance(inner, tirx.IntImm) or (int(inner) * ebytes) % 16:
        return None
    if any(uses_var(r.min, v) for r in src.region for v in thread_vars):
        return None
    lay = layouts.get(dbuf)
    rows, cols = shape
    if isinstance(lay, WGMMATile):
        swizzle, panel = lay.swizzle_bytes, lay.panel
        if cols % panel:
            return None
    elif lay is None:
        # a plain tile: TMA needs it 128-byte aligned, which the aligned pool of a kernel with wgmma tiles gives
        # (each buffer and, with whole 128 bytes per stage, each stage)
        swizzle, panel = 0, cols
        pooled = any(isinstance(other, WGMMATile) for other in layouts.values())
        if not pooled or (cols * ebytes) % 16 or (rows * cols * ebytes) % 128:
            return None
    else:
        return None
    box = [panel] + [e for e in reversed(ext_s[:-1])]
    if any(b > _MAX_BOX for b in box):
        return None
    return TMALoad(sbuf, dbuf, tuple(box), swizzle, cols // panel, panel, rows * cols * ebytes)


def assign_maps(loads) -> list:
    """Give each load its tensor-map variable (loads of one tensor with one box share it); the distinct loads."""
    maps, out = {}, []
    for load in loads:
        if load.key() not in maps:
            maps[load.key()] = tirx.Var(f"{load.src.name}_tmap", T.handle("tensormap").ty)
            out.append(load)
        load.map_var = maps[load.key()]
    return out


def host_statements(load: TMALoad) -> list:
    """Host code encoding ``load``'s tensor map (before the kernel launch)."""
    sbuf = load.src
    dtype = str(sbuf.ty.dtype)
    ebytes = _elem_bytes(dtype)
    dims = list(reversed(list(sbuf.ty.shape)))  # innermost first
    strides, acc = [], tirx.const(ebytes, "int64")
    for d in dims[:-1]:
        acc = acc * tirx.Cast("int64", d)
        strides.append(acc)
    rank = len(dims)
    args = [load.map_var, _TMA_DTYPE.get(dtype, dtype), rank, sbuf.data, *dims, *strides, *load.box,
            *([1] * rank), 0, _SWIZZLE_CODE[load.swizzle], _L2_PROMOTION_256B, 0]
    return [tirx.Bind(load.map_var, T.tvm_stack_alloca("tensormap", 1)),
            tirx.Evaluate(tirx.call_packed("runtime.cuTensorMapEncodeTiled", *args))]


def with_host_statements(func, body, host: list):
    """``func`` with ``body`` and ``host`` added after the tensor-map encodings it already records (placed before the
    launch by :func:`PlaceTensorMaps`)."""
    before = list(func.attrs[HOST_PROLOGUE_ATTR]) if func.attrs is not None and HOST_PROLOGUE_ATTR in func.attrs \
        else []
    return func.with_body(body).with_attr(HOST_PROLOGUE_ATTR, before + list(host))


def issue(load: TMALoad, copy, staged_dst, stage, barrier_ptr) -> list:
    """The TMA instructions that fill ``stage`` of ``staged_dst`` with ``copy``'s region (already substituted for
    its iteration), completing on ``barrier_ptr``; ``stage`` None: ``staged_dst`` is the tile itself (a load before
    the loop)."""
    src = copy.value.args[0]
    rank = len(src.region)
    op = T.ptx[f"cp.async.bulk.tensor.{rank}d.shared::cluster.global.mbarrier::complete_tx::bytes"]
    coords = [tirx.Cast("int32", r.min) if str(r.min.ty.dtype) != "int32" else r.min for r in reversed(src.region)]
    out = []
    for p in range(load.panels):
        c = list(coords)
        c[0] = c[0] + p * load.panel_elems
        at = [tirx.const(0, "int32")] * (len(load.dst.ty.shape) - 1) + [tirx.const(p * load.panel_elems, "int32")]
        dst = tirx.address_of(tirx.BufferLoad(staged_dst, at if stage is None else [stage] + at))
        out.append(tirx.Evaluate(op(dst, tirx.address_of(load.map_var), *c, barrier_ptr)))
    return out


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.PlaceTensorMaps")
@keep_tiledsl_errors
def PlaceTensorMaps(func, mod, ctx):
    """Put the tensor-map encodings PipelineCUDA recorded at the top of the function (host code, before the
    launch); runs after LowerTileOpsCUDA, which need not know about them."""
    if func.attrs is None or HOST_PROLOGUE_ATTR not in func.attrs:
        return func
    host = list(func.attrs[HOST_PROLOGUE_ATTR])
    out = tirx.PrimFunc(func.params, seq(host + [func.body]), func.ret_type)
    for key, value in func.attrs.items():
        if str(key) != HOST_PROLOGUE_ATTR:
            out = out.with_attr(str(key), value)
    return out
