"""``T.im2col``: the image patches one tile of a convolution's implicit GEMM needs, gathered into a tile.

TileLang lowers it to the TMA im2col copy on Hopper; tiledsl builds it as a gathered element-wise copy
(``T.Parallel`` over the tile, each element read from the image or 0 in the padding), which every target runs.
"""
from __future__ import annotations

from tvm import tirx
from tvm.script.ir_builder import tirx as _builder

from ..errors import TileProgramError
from .buffers import as_region, buffer_scope, constant_shape, is_buffer
from .loops import PARALLEL_ATTR


def _int_arg(name: str, value) -> int:
    if isinstance(value, tirx.IntImm):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TileProgramError(f"T.im2col: {name}={value!r} must be a Python int known when the kernel is built")
    return value


def im2col(img, col, nhw_step, c_step, kernel, stride, dilation, pad, eviction_policy=None, annotations=None):
    """``T.im2col(data, data_shared, by, k, KH, S, D, P)``: fill the ``(block_M, block_K)`` tile ``col`` with rows
    ``nhw_step * block_M + i`` of the im2col matrix of the NHWC image ``img`` (one row per output pixel, ordered
    n, oh, ow) and its columns ``c_step * block_K + j`` (ordered kh, kw, c, matching a (KH, KW, C, F) filter
    flattened to (KH * KW * C, F)), for a square ``kernel`` with ``stride``, ``dilation`` and zero padding
    ``pad``. Elements in the padding or past the matrix's edge are 0. ``eviction_policy`` is a cache hint
    (accepted, unused)."""
    if eviction_policy not in (None, "evict_normal", "evict_first", "evict_last"):
        raise TileProgramError(f"T.im2col: eviction_policy={eviction_policy!r} is not one of evict_normal, "
                               f"evict_first, evict_last")
    if not is_buffer(img) or len(img.ty.shape) != 4:
        raise TileProgramError(f"T.im2col: the image must be a 4-d (N, H, W, C) tensor, got `{img}`")
    region = as_region(col, "T.im2col")
    extents = constant_shape([r.extent for r in region.region], "T.im2col")
    if len(extents) != 2:
        raise TileProgramError(f"T.im2col: the destination must be a 2-d (block_M, block_K) tile, got extents "
                               f"{extents}")
    if buffer_scope(region.source) == "global":
        raise TileProgramError("T.im2col: the destination must be a shared or fragment tile, not a global tensor")
    kernel, stride, dilation, pad = (_int_arg(n, v) for n, v in (("kernel", kernel), ("stride", stride),
                                                                 ("dilation", dilation), ("pad", pad)))
    if kernel < 1 or stride < 1 or dilation < 1 or pad < 0:
        raise TileProgramError(f"T.im2col: kernel={kernel}, stride={stride}, dilation={dilation} must be positive "
                               f"and pad={pad} non-negative")
    batch, height, width, channels = img.ty.shape
    out_h = (height + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
    out_w = (width + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
    block_m, block_k = extents
    with _builder.parallel(block_m, annotations={PARALLEL_ATTR: 1}) as i:
        with _builder.parallel(block_k, annotations={PARALLEL_ATTR: 1}) as j:
            row = nhw_step * block_m + i
            column = c_step * block_k + j
            n = row // (out_h * out_w)
            oh = row % (out_h * out_w) // out_w
            ow = row % out_w
            c = column % channels
            kw = column // channels % kernel
            kh = column // (channels * kernel)
            ih = oh * stride + kh * dilation - pad
            iw = ow * stride + kw * dilation - pad
            inside = tirx.all(row < batch * out_h * out_w, column < kernel * kernel * channels,
                              ih >= 0, ih < height, iw >= 0, iw < width)
            dtype = str(region.source.ty.dtype)
            value = img[n, ih, iw, c]
            if str(img.ty.dtype) != dtype:
                value = tirx.Cast(dtype, value)
            origin = [r.min for r in region.region]
            _builder.buffer_store(region.source, tirx.if_then_else(inside, value, tirx.const(0, dtype)),
                                  [origin[0] + i, origin[1] + j])
