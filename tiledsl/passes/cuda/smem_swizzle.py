"""Shared-tile layouts: where logical element ``flat`` of a shared tile is stored.

Two layouts, both permuting whole 16-byte chunks (so aligned 16-byte cp.async, vector stores and ldmatrix rows
stay whole):

* :class:`XorSwizzle` - for tiles read by ldmatrix (mma.sync): a tile with rows of ``L`` elements (2-byte dtype) is
  seen as rows of 16-byte chunks; chunk ``j`` of row ``r`` is stored at chunk ``j ^ f(r)`` of the same row, with
  ``f(r) = r % 8`` when a row holds at least 8 chunks (inside each group of 8) and ``f(r) = (r // (8 / cpr)) % cpr``
  when it holds ``cpr`` < 8 chunks. Rows are counted over the flattened buffer (a leading stage dimension just
  continues the row count; tiles have a multiple of 8 rows).
* :class:`WGMMATile` - for tiles read by wgmma through a shared-memory descriptor: the canonical 128-byte (or 64-byte)
  swizzled layout the descriptor expects. The last dimension is cut into panels of 128 bytes; each panel is stored
  as a contiguous [rows x 128 B] block, and chunk ``j`` of row ``r`` of a panel sits at chunk ``j ^ (r % 8)``
  (64-byte rows: ``j ^ ((r // 2) % 4)``). The same layout serves a K-major and an MN-major operand. Each tile of a
  staged buffer starts on a 1024-byte boundary: :func:`align_tiles` places these buffers in one pool whose base is
  rounded up at run time (TVM only aligns the dynamic shared memory to 64 bytes).

Applied by LowerTileOpsCUDA: pointer offsets it creates go through :func:`physical_offset`; every remaining
element access of such a buffer is rewritten by :func:`swizzle_accesses`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad

from ...errors import SharedMemoryError
from ..lowering_options import schedule
from ..rewriter import substitute
from ..tile_lowering_utils import const_ints, dtype_bytes, flat_index, unravel
from .smem_lifetimes import insert_barriers, plan_pool
from .smem_statement_lifetimes import insert_statement_barriers, plan_statement_pool
from ...language.buffers import SHARED_SCOPES

logger = logging.getLogger(__name__)

TILE_ALIGN = 1024  # bytes: the repeat of the 128-byte swizzle pattern
SM90_SHARED_BYTES = 232448  # dynamic shared memory a block may use on sm_90


def _shape(buf):
    try:
        return const_ints(list(buf.ty.shape), "swizzle")
    except Exception:  # noqa: BLE001 - symbolic shapes are simply not swizzled
        return None


@dataclass(frozen=True)
class XorSwizzle:
    """The bank-conflict swizzle of tiles read by ldmatrix (see the module docstring)."""

    def offset(self, buf, flat):
        L = int(buf.ty.shape[-1])
        cpr = L // 8
        row, col = tirx.floordiv(flat, L), tirx.floormod(flat, L)
        chunk, elem = tirx.floordiv(col, 8), tirx.floormod(col, 8)
        if cpr >= 8:
            key = tirx.floormod(row, 8)
            phys = tirx.floordiv(chunk, 8) * 8 + tirx.bitwise_xor(tirx.floormod(chunk, 8), key)
        else:
            key = tirx.floormod(tirx.floordiv(row, 8 // cpr), cpr)
            phys = tirx.bitwise_xor(chunk, key)
        return row * L + phys * 8 + elem


STAGING_ATTR = "tma_store_staging"  # copy attribute: the destination is a TMA store's staging tile (tma_store.py)


@dataclass(frozen=True)
class WGMMATile:
    """The canonical swizzled layout of a wgmma operand tile (see the module docstring)."""

    rows: int  # rows of one tile (the buffer's second-to-last extent)
    cols: int  # its last extent, in elements
    elem_bytes: int
    swizzle_bytes: int  # 128 or 64

    @property
    def panel(self) -> int:
        """Elements per panel row."""
        return self.swizzle_bytes // self.elem_bytes

    @property
    def chunk(self) -> int:
        """Elements per 16-byte chunk."""
        return 16 // self.elem_bytes

    @property
    def panel_bytes(self) -> int:
        return self.rows * self.swizzle_bytes

    @property
    def swizzle_code(self) -> int:
        """The descriptor's layout type (bits 62-63): 1 = 128-byte swizzle, 2 = 64-byte."""
        return 1 if self.swizzle_bytes == 128 else 2

    def offset(self, buf, flat):
        tile = self.rows * self.cols
        stage, rem = tirx.floordiv(flat, tile), tirx.floormod(flat, tile)
        r, c = tirx.floordiv(rem, self.cols), tirx.floormod(rem, self.cols)
        p, cc = tirx.floordiv(c, self.panel), tirx.floormod(c, self.panel)
        chunk, elem = tirx.floordiv(cc, self.chunk), tirx.floormod(cc, self.chunk)
        key = tirx.floormod(r, 8) if self.swizzle_bytes == 128 else tirx.floormod(tirx.floordiv(r, 2), 4)
        return (stage * tile + p * (self.rows * self.panel) + r * self.panel
                + tirx.bitwise_xor(chunk, key) * self.chunk + elem)

    def byte_offset(self, row: int, col: int) -> int:
        """Unswizzled byte offset of (row, col) inside one tile (row a multiple of 8: where a descriptor starts)."""
        return (col // self.panel) * self.panel_bytes + row * self.swizzle_bytes + (col % self.panel) * self.elem_bytes


def swizzle_ok(buf) -> bool:
    """True for a 2-byte shared buffer whose rows are whole 16-byte chunks and whose tiles have 8k rows."""
    if str(buf.ty.dtype) not in ("float16", "bfloat16") or buf.scope() not in SHARED_SCOPES:
        return False
    shape = _shape(buf)
    if shape is None or len(shape) < 2:
        return False
    L, R = shape[-1], shape[-2]
    cpr = L // 8
    return L % 8 == 0 and (cpr in (2, 4) or cpr % 8 == 0) and R % 8 == 0


def wgmma_tile(buf) -> WGMMATile | None:
    """The wgmma layout of a shared buffer, or None when its shape has none (rows of 64 bytes or whole multiples of
    128 bytes, tiles of 8k rows, a 1- or 2-byte dtype)."""
    if buf.scope() not in SHARED_SCOPES:
        return None
    dtype = str(buf.ty.dtype)
    if dtype not in ("float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "int8", "uint8"):
        return None
    shape = _shape(buf)
    if shape is None or len(shape) < 2 or shape[-2] % 8:
        return None
    ebytes = 2 if dtype in ("float16", "bfloat16") else 1
    row_bytes = shape[-1] * ebytes
    if row_bytes % 128 == 0:
        return WGMMATile(shape[-2], shape[-1], ebytes, 128)
    if row_bytes == 64:
        return WGMMATile(shape[-2], shape[-1], ebytes, 64)
    return None


def staging_tile(buf) -> WGMMATile | None:
    """The layout of a shared tile the TMA unit reads (a TMA store's or reduce-add's staging tile): 128-byte swizzled
    panels, as :func:`wgmma_tile` gives, for 1-, 2- and 4-byte types with rows of whole 128-byte panels."""
    shape = _shape(buf)
    ebytes = dtype_bytes(str(buf.ty.dtype))
    if shape is None or len(shape) < 2 or shape[-2] % 8 or ebytes not in (1, 2, 4) or (shape[-1] * ebytes) % 128:
        return wgmma_tile(buf)
    return WGMMATile(shape[-2], shape[-1], ebytes, 128)


def physical_offset(buf, flat, analyzer=None, layout=None):
    """Where logical flat element ``flat`` of a swizzled buffer is stored (``layout`` None: :class:`XorSwizzle`)."""
    out = (layout or XorSwizzle()).offset(buf, flat)
    return analyzer.simplify(out) if analyzer is not None else out


def swizzle_accesses(body, bufs, analyzer):
    """Rewrite every element load/store of ``bufs`` (a set: XOR swizzle; a dict: buffer -> layout) to its
    stored position."""
    if not bufs:
        return body
    layouts = bufs if isinstance(bufs, dict) else {b: None for b in bufs}

    def remap(buf, indices):
        shape = [int(s) for s in buf.ty.shape]
        flat = physical_offset(buf, flat_index(list(indices), shape), analyzer, layouts[buf])
        return [analyzer.simplify(i) for i in unravel(flat, shape)]

    def on_load(load):
        if load.source in layouts:
            return tirx.BufferLoad(load.source, remap(load.source, load.indices))
        return load

    def on_store(store):
        if store.buffer in layouts:
            return tirx.BufferStore(store.buffer, store.value, remap(store.buffer, store.indices))
        return store

    return tvm_ffi.structural_map(body, [(TensorLoad, on_load), (tirx.BufferStore, on_store)], order="post")


def _side_by_side(sizes: list, aligns: list) -> tuple[list, int]:
    """Byte offsets of buffers placed one after the other (each at its alignment), and the bytes they span."""
    offsets, total = [], 0
    for size, align in zip(sizes, aligns):
        total = -(-total // align) * align
        offsets.append(total)
        total += size
    return offsets, total


def pool_breakdown(bufs, sizes, offsets, transient=()) -> str:
    """Where each buffer of a pool lies: ``name shape: size KiB at offset KiB`` (scratch of tile ops marked),
    and the alignment padding the layout leaves between them."""
    parts, covered, reach = [], 0, 0
    for buf, size, off in sorted(zip(bufs, sizes, offsets), key=lambda t: t[2]):
        kind = " scratch" if buf in transient else ""
        parts.append(f"{buf.name}{kind} {tuple(int(e) for e in buf.ty.shape)}: {size / 1024:g} KiB at "
                     f"{off / 1024:g} KiB")
        covered += max(off + size - max(off, reach), 0)
        reach = max(reach, off + size)
    padding = reach - covered
    return "; ".join(parts) + (f"; alignment padding {padding / 1024:g} KiB" if padding else "")


class ScratchTooLarge(Exception):
    """Raised by :func:`align_tiles` (not a user error): the tiles do not fit with the scratch as lowered; the
    caller lowers the kernel again with its tightest scratch and calls ``align_tiles(..., tight=True)``."""


def static_shared_bytes(body) -> int:
    """Bytes of the static (``shared``) buffers allocated in ``body``, each rounded up to the 64-byte alignment
    TVM's CUDA code declares them with."""
    total = []

    def on_alloc(stmt):
        buf = stmt.buffer
        if buf.scope() == "shared":
            n = dtype_bytes(buf.ty.dtype)
            for e in const_ints(list(buf.ty.shape), "shared buffer"):
                n *= e
            total.append(-(-n // 64) * 64)
    tvm_ffi.structural_walk(body, (tirx.AllocBuffer, on_alloc))
    return sum(total)


def align_tiles(body, tiles: list, transient=(), tight: bool = False, plain: bool = False):
    """Place every ``shared.dyn`` buffer allocated in ``body`` in one byte pool whose base is rounded up to
    TILE_ALIGN bytes at run time, ``tiles`` (the wgmma operand tiles) at multiples of TILE_ALIGN bytes; returns
    ``(prologue statements, body without the allocations, epilogue)``.

    Each buffer becomes a view (``DeclBuffer``) into the pool. All of them share one pool because TVM's
    shared-memory merging sees only the pool's own accesses (not its views'): with two dynamic buffers it would
    let them overlap. The epilogue touches the pool at the end of the kernel for the same reason.

    Declared ``shared.dyn``, the views would be one buffer to TVM's ThreadSync: a statement reading one tile after
    a statement writing another would get a barrier (the int8-weight GEMM's conversion, four stores from one tile
    into another, had three). With tile barriers (the default; ``TILEDSL_TILE_BARRIERS=0`` turns them off) the
    views are declared ``shared``, so ThreadSync compares each tile with itself only. That is exact because views
    overlap only where this function's own reuse plan puts them, and that plan places its own barriers
    (``insert_barriers``).

    When the buffers side by side do not fit sm_90's shared memory (with the kernel's static shared buffers, the
    pipelines' mbarriers), those whose lifetimes (top-level statements) do not overlap share bytes. When that does
    not fit either and there are ``transient`` buffers (tile ops' own scratch), :class:`ScratchTooLarge` asks the
    caller to lower the kernel again with its tightest scratch (``tight=True``), where transient buffers get
    statement-level lifetimes (smem_statement_lifetimes). A kernel that fits one way never takes the next.

    ``plain`` (with ``TILEDSL_PLAIN_POOL``): a kernel without wgmma tiles (``tiles`` empty) whose shared buffers
    could share no bytes anyway (every two are used by one top-level statement, as a pipelined loop's stages are)
    gets the pool too, at the base TVM gives, so that ThreadSync compares each tile with itself there as well (the
    int8-weight GEMM on mma.sync had a barrier after each of its eight conversion stores). Any other such kernel
    (and one over the budget, which TVM's merging and the launch report in the user's terms) is left to TVM's
    merging, which may reuse bytes at a finer grain than top-level statements.
    """
    if not tiles and not (plain and schedule("TILEDSL_TILE_BARRIERS") and schedule("TILEDSL_PLAIN_POOL")):
        return [], body, []
    found = []
    tvm_ffi.structural_walk(body, (tirx.AllocBuffer, lambda s: found.append(s.buffer)
                                   if s.buffer.scope() == "shared.dyn" else None))
    bufs = list(dict.fromkeys(list(tiles) + found))
    wgmma = set(tiles)
    sizes = []
    for buf in bufs:
        n = dtype_bytes(buf.ty.dtype)
        for e in const_ints(list(buf.ty.shape), "shared tile"):
            n *= e
        sizes.append(n)
    aligns = [TILE_ALIGN if b in wgmma else 128 for b in bufs]
    offsets, total = _side_by_side(sizes, aligns)
    base_align = TILE_ALIGN if tiles else 0
    budget = SM90_SHARED_BYTES - base_align - static_shared_bytes(body)
    if not tiles and (len(bufs) < 2 or total > budget or plan_pool(body, bufs, sizes, aligns)[1] < total):
        return [], body, []
    if total > budget:
        # only then do tiles whose lifetimes do not overlap share bytes (a barrier separates the old tile's last
        # use from the new one's first): a kernel that fits keeps the layout its GPU tests ran with
        offsets, total, reuse = plan_pool(body, bufs, sizes, aligns)
        if total > budget and transient and not tight:
            raise ScratchTooLarge(f"{(total + TILE_ALIGN) / 1024:.1f} KiB")
        if total > budget and transient:
            fine = plan_statement_pool(body, bufs, sizes, aligns, set(transient))
            if fine is not None and fine[1] < total:
                offsets, total, reuse = fine
                body = insert_statement_barriers(body, reuse)
                reuse = set()
        body = insert_barriers(body, reuse)
    if total > budget:
        names = ", ".join(f"{b.name} {tuple(int(e) for e in b.ty.shape)}" for b in bufs)
        static = SM90_SHARED_BYTES - TILE_ALIGN - budget
        extra = f" and {static} bytes of static shared memory (mbarriers)" if static else ""
        raise SharedMemoryError(
            f"shared memory: this kernel's shared tiles ({names}) need {(total + TILE_ALIGN) / 1024:.1f} KiB with the "
            f"1024-byte alignment wgmma needs{extra}, more than the {SM90_SHARED_BYTES // 1024} KiB a block may use "
            f"on sm_90; use smaller tiles or fewer num_stages (the pool: "
            f"{pool_breakdown(bufs, sizes, offsets, set(transient))})")
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("shared pool of %.1f KiB: %s", (total + base_align) / 1024,
                     pool_breakdown(bufs, sizes, offsets, set(transient)))
    pool = tirx.decl_buffer((total + base_align,), "uint8", "smem_pool", scope="shared.dyn")
    prologue = [tirx.AllocBuffer(pool)]
    pad = tirx.const(0, "int32")
    if base_align:
        pad = tirx.Var("smem_pad", "int32")
        base = tirx.call_intrin("uint32", "tirx.cuda.cvta_generic_to_shared",
                                tirx.address_of(tirx.BufferLoad(pool, [tirx.const(0, "int32")])))
        misalign = tirx.Cast("int32", tirx.bitwise_and(base, tirx.const(base_align - 1, "uint32")))
        prologue.append(tirx.Bind(pad, tirx.bitwise_and(base_align - misalign, base_align - 1)))
    mapping = {}
    view_scope = "shared" if schedule("TILEDSL_TILE_BARRIERS") else "shared.dyn"
    for buf, off in zip(bufs, offsets):
        view = tirx.decl_buffer(list(buf.ty.shape), str(buf.ty.dtype), buf.name, scope=view_scope)
        prologue.append(tirx.DeclBuffer(view, data=tirx.address_of(tirx.BufferLoad(pool, [pad + off]))))
        mapping[buf] = view
    targets = set(bufs)

    def drop_alloc(stmt):
        return tirx.Evaluate(tirx.const(0, "int32")) if stmt.buffer in targets else stmt

    body = tvm_ffi.structural_map(body, [(tirx.AllocBuffer, drop_alloc)], order="pre")
    return prologue, substitute(body, mapping), [tirx.Evaluate(pool.access_ptr("rw"))]
