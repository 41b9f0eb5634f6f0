"""Fragment layouts: which thread owns element ``idx`` of a fragment, and where in its registers.

A layout maps a fragment index to ``(thread, local)`` and back (``inverse(tid, local)``), so any loop over a
fragment can be written as "for each register this thread holds". Three layouts:

* :class:`Striped` - row-major groups of ``vec`` consecutive elements dealt to threads round-robin (group ``g`` goes
  to thread ``g % nthreads``). The default for fragments and for ``T.Parallel`` loops; with ``vec`` chosen from
  the shape only, every fragment of one shape has the same layout, so ``T.Parallel`` needs no communication.
* :class:`Replicated` - every thread holds every element (reduction outputs, ``T.alloc_local``).
* :class:`MMAAccumulator` - the m16n8 accumulator layout of ``mma.sync`` tiled over a grid of warps;
  :class:`WGMMAAccumulator` - the m64nN accumulator of Hopper's ``wgmma`` tiled over a grid of warpgroups (the same
  register order per 16x8 tile, so the row statistics (:class:`MMARows` / :class:`WGMMARows`) work alike).
* :class:`SwappedWGMMAAccumulator` - a result held as the wgmma accumulator of its transpose (a weight
  converted in registers, ``register_dequant.py``).
* :class:`MMARows` - row statistics of an mma accumulator, held by every thread that holds the row.

``replica_guard(tid)`` is true on exactly one thread of those holding an element (None when each element has one
holder): side effects of per-element code (stores to memory, atomics) run only there.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce


from tvm import tirx

from ..tile_lowering_utils import flat_index, unravel


def numel(shape) -> int:
    """Number of elements of a constant shape."""
    return reduce(lambda a, b: a * b, shape, 1)


def default_vec(shape, nthreads: int = 1) -> int:
    """Elements per group for a striped layout of ``shape``: up to 8 dividing the last extent, preferring a width
    that keeps every thread busy (whole rounds of ``nthreads`` groups), then one that fills all threads once."""
    last, total = shape[-1], numel(shape)
    divisors = [v for v in (8, 4, 2, 1) if last % v == 0]
    for v in divisors:
        if total % (v * nthreads) == 0:
            return v
    for v in divisors:
        if total // v >= nthreads:
            return v
    return divisors[-1] if divisors else 1


@dataclass(frozen=True)
class Striped:
    """Row-major groups of ``vec`` elements, group ``g`` owned by thread ``g % nthreads``."""

    shape: tuple
    nthreads: int
    vec: int

    @property
    def local_size(self) -> int:
        groups = -(-numel(self.shape) // self.vec)
        return -(-groups // self.nthreads) * self.vec

    @property
    def exact(self) -> bool:
        """True when every (thread, local) slot is a real element (no guard needed)."""
        return numel(self.shape) % (self.vec * self.nthreads) == 0

    def inverse(self, tid, local):
        """Fragment indices of register ``local`` of thread ``tid``."""
        group = (local // self.vec) * self.nthreads + tid
        last = self.shape[-1]
        if last % self.vec == 0:
            # a group never crosses a row: the lane only moves the last index (``(g * 8 + lane) // 192`` would
            # hide from the simplifier that a row test is the same for all lanes, and block vectorizing)
            per_row = last // self.vec
            return unravel(group // per_row, self.shape[:-1]) + [(group % per_row) * self.vec + local % self.vec] \
                if len(self.shape) > 1 else [group * self.vec + local % self.vec]
        return unravel(group * self.vec + local % self.vec, self.shape)

    def valid(self, tid, local):
        """Predicate: register ``local`` of thread ``tid`` holds an element (None when always)."""
        if self.exact:
            return None
        group = (local // self.vec) * self.nthreads + tid
        return group < -(-numel(self.shape) // self.vec)

    def owner(self, indices):
        """(thread, local) of an element."""
        flat = flat_index(indices, self.shape)
        group = flat // self.vec
        return group % self.nthreads, (group // self.nthreads) * self.vec + flat % self.vec

    def replica_guard(self, tid):
        """Predicate true on exactly one of the threads holding a slot (None: every element has one holder)."""
        return None

    def describe(self) -> str:
        return f"striped(vec={self.vec}, threads={self.nthreads})"


@dataclass(frozen=True)
class Replicated:
    """Every thread holds every element."""

    shape: tuple

    @property
    def local_size(self) -> int:
        return numel(self.shape)

    exact = True

    def inverse(self, tid, local):
        return unravel(local, self.shape)

    def valid(self, tid, local):
        return None

    def owner(self, indices):
        return None, flat_index(indices, self.shape)

    def replica_guard(self, tid):
        return tid == 0

    def describe(self) -> str:
        return "replicated"


@dataclass(frozen=True)
class MMAAccumulator:
    """The accumulator of ``mma.sync.m16n8k*`` over a (warps_m x warps_n) grid of warps.

    Warp ``w`` (row ``w // warps_n``, column ``w % warps_n``) owns the (M / warps_m, N / warps_n) sub-tile, made of
    16x8 mma tiles; lane ``l`` holds rows ``l // 4`` and ``l // 4 + 8``, columns ``(l % 4) * 2 + {0, 1}`` of each.
    Register order: ``((mi * tiles_n + ni) * 2 + half) * 2 + pair``.
    """

    shape: tuple
    warps_m: int
    warps_n: int

    @property
    def nthreads(self) -> int:
        return self.warps_m * self.warps_n * 32

    @property
    def warp_tile(self):
        return self.shape[0] // self.warps_m, self.shape[1] // self.warps_n

    @property
    def tiles(self):
        wm, wn = self.warp_tile
        return wm // 16, wn // 8

    @property
    def local_size(self) -> int:
        tm, tn = self.tiles
        return tm * tn * 4

    exact = True
    vec = 2

    def inverse(self, tid, local):
        wm, wn = self.warp_tile
        _, tn = self.tiles
        warp, lane = tid // 32, tid % 32
        pair, half = local % 2, (local // 2) % 2
        tile = local // 4
        mi, ni = tile // tn, tile % tn
        row = (warp // self.warps_n) * wm + mi * 16 + half * 8 + lane // 4
        col = (warp % self.warps_n) * wn + ni * 8 + (lane % 4) * 2 + pair
        return [row, col]

    def valid(self, tid, local):
        return None

    def owner(self, indices):
        row, col = indices
        wm, wn = self.warp_tile
        _, tn = self.tiles
        warp = (row // wm) * self.warps_n + col // wn
        r, c = row % wm, col % wn
        lane = (r % 8) * 4 + (c % 8) // 2
        local = (((r // 16) * tn + c // 8) * 2 + (r % 16) // 8) * 2 + c % 2
        return warp * 32 + lane, local

    def replica_guard(self, tid):
        return None

    def rows_layout(self):
        """The layout of this accumulator's row statistics."""
        return MMARows((self.shape[0],), self.warps_m, self.warps_n)

    def describe(self) -> str:
        return f"mma-accumulator(warps={self.warps_m}x{self.warps_n})"


@dataclass(frozen=True)
class WGMMAAccumulator(MMAAccumulator):
    """The accumulator of ``wgmma.m64nNk*`` over a (warps_m / 4 x warps_n) grid of warpgroups.

    Warpgroup ``g`` (row ``g // warps_n``, column ``g % warps_n``) owns the (M / groups_m, N / warps_n) sub-tile,
    made of m64 blocks; in block ``mi`` warp ``w`` of the group holds rows ``mi * 64 + 16 * w + {0..15}`` with the
    lane pattern of mma.sync's 16x8 tiles, all N / warps_n columns. Register order:
    ``((mi * (Nw / 8) + ni) * 2 + half) * 2 + pair`` (the order wgmma's f32 accumulator operands take).
    """

    @property
    def groups_m(self) -> int:
        return self.warps_m // 4

    @property
    def warp_tile(self):
        return self.shape[0] // self.groups_m, self.shape[1] // self.warps_n

    @property
    def tiles(self):
        wm, wn = self.warp_tile
        return wm // 64, wn // 8

    def inverse(self, tid, local):
        wm, wn = self.warp_tile
        _, tn = self.tiles
        group, warp, lane = tid // 128, (tid % 128) // 32, tid % 32
        pair, half = local % 2, (local // 2) % 2
        tile = local // 4
        mi, ni = tile // tn, tile % tn
        row = (group // self.warps_n) * wm + mi * 64 + warp * 16 + half * 8 + lane // 4
        col = (group % self.warps_n) * wn + ni * 8 + (lane % 4) * 2 + pair
        return [row, col]

    def owner(self, indices):
        row, col = indices
        wm, wn = self.warp_tile
        _, tn = self.tiles
        group = (row // wm) * self.warps_n + col // wn
        r, c = row % wm, col % wn
        warp = (r % 64) // 16
        lane = (r % 8) * 4 + (c % 8) // 2
        local = (((r // 64) * tn + c // 8) * 2 + (r % 16) // 8) * 2 + c % 2
        return group * 128 + warp * 32 + lane, local

    def rows_layout(self):
        return WGMMARows((self.shape[0],), self.warps_m, self.warps_n)

    def describe(self) -> str:
        return f"wgmma-accumulator(warpgroups={self.groups_m}x{self.warps_n})"


@dataclass(frozen=True)
class SwappedWGMMAAccumulator:
    """A (M, N) result held as the wgmma accumulator of its transpose (``register_dequant.py``: C^T = W^T A^T).

    ``base`` is the :class:`WGMMAAccumulator` of the (N, M) product the instructions compute; element (m, n) of
    the fragment is its element (n', m), where each 16-row slice of the base takes the columns of C in pairs:
    base row ``g`` (0-7) holds column ``2g``, row ``g + 8`` column ``2g + 1`` (the row order ``ldmatrix.trans``
    delivers the weight's columns in). The fragment's register order swaps the base's ``pair`` and ``half`` bits,
    so registers ``2q, 2q + 1`` hold two adjacent columns of one row of C (``vec = 2``: 4-byte fp16 stores).
    No row statistics: a reduction over C's rows is not one a thread can do on its own registers.
    """

    shape: tuple  # (M, N) of the result
    warps_m: int  # of the base accumulator: 4 per warpgroup row
    warps_n: int

    @property
    def base(self) -> WGMMAAccumulator:
        """The accumulator of the transposed product, as the wgmma instructions see it."""
        return WGMMAAccumulator((self.shape[1], self.shape[0]), self.warps_m, self.warps_n)

    @property
    def groups_m(self) -> int:
        return self.warps_m // 4

    @property
    def nthreads(self) -> int:
        return self.warps_m * self.warps_n * 32

    @property
    def local_size(self) -> int:
        return self.base.local_size

    exact = True
    vec = 2

    @staticmethod
    def swap_bits(local):
        """Base register <-> fragment register (an involution: bits 0 and 1 exchanged)."""
        return (local // 4) * 4 + (local % 2) * 2 + (local // 2) % 2

    def inverse(self, tid, local):
        wm, wn = self.base.warp_tile
        _, tn = self.base.tiles
        group, warp, lane = tid // 128, (tid % 128) // 32, tid % 32
        half, pair = local % 2, (local // 2) % 2
        tile = local // 4
        mi, ni = tile // tn, tile % tn
        n = (group // self.warps_n) * wm + mi * 64 + warp * 16 + (lane // 4) * 2 + half
        m = (group % self.warps_n) * wn + ni * 8 + (lane % 4) * 2 + pair
        return [m, n]

    def valid(self, tid, local):
        return None

    def owner(self, indices):
        m, n = indices
        r = n % 16
        base_row = n - r + (r % 2) * 8 + r // 2
        tid, local = self.base.owner([base_row, m])
        return tid, self.swap_bits(local)

    def replica_guard(self, tid):
        return None

    def rows_layout(self):
        """None: no row-statistics layout (see the class docstring)."""
        return None

    def describe(self) -> str:
        return f"swapped-wgmma-accumulator(warpgroups={self.groups_m}x{self.warps_n})"


@dataclass(frozen=True)
class MMARows:
    """Row statistics of an :class:`MMAAccumulator`: element ``r`` of a (M,) fragment is held by every thread that
    holds row ``r`` of the accumulator (the 4 lanes of a quad, in each warp of that warp row), as register
    ``mi * 2 + half`` - so ``m[i]`` inside a loop over the accumulator is a compile-time register index."""

    shape: tuple
    warps_m: int
    warps_n: int

    @property
    def nthreads(self) -> int:
        return self.warps_m * self.warps_n * 32

    @property
    def warp_rows(self) -> int:
        return self.shape[0] // self.warps_m

    @property
    def local_size(self) -> int:
        return 2 * (self.warp_rows // 16)

    exact = True
    vec = 1

    def inverse(self, tid, local):
        warp, lane = tid // 32, tid % 32
        return [(warp // self.warps_n) * self.warp_rows + (local // 2) * 16 + (local % 2) * 8 + lane // 4]

    def valid(self, tid, local):
        return None

    def matches(self, acc) -> bool:
        """True when ``acc`` (an MMAAccumulator) spreads its rows over the threads the way this layout does."""
        return isinstance(acc, MMAAccumulator) and acc.rows_layout() == self

    def peer_warps(self, warp) -> list:
        """The warps that hold the same rows as ``warp`` (first one first)."""
        first = (warp // self.warps_n) * self.warps_n
        return [first + w for w in range(self.warps_n)]

    @staticmethod
    def register_of(acc, slot):
        """Register of the row statistic that goes with register ``slot`` of accumulator ``acc``."""
        return (slot // (acc.tiles[1] * 4)) * 2 + (slot // 2) % 2

    def replica_guard(self, tid):
        """Lane 0 of each quad, in the first warp of each warp row: one holder per row."""
        first_lane = tirx.floormod(tid, 4) == 0
        if self.warps_n == 1:
            return first_lane
        return tirx.And(first_lane, tirx.floormod(tirx.floordiv(tid, 32), self.warps_n) == 0)

    def describe(self) -> str:
        return f"mma-rows(warps={self.warps_m}x{self.warps_n})"


@dataclass(frozen=True)
class WGMMARows(MMARows):
    """Row statistics of a :class:`WGMMAAccumulator` (register ``mi * 2 + half``, as for :class:`MMARows`)."""

    def inverse(self, tid, local):
        group, warp, lane = tid // 128, (tid % 128) // 32, tid % 32
        return [(group // self.warps_n) * self.warp_rows * 4 + (local // 2) * 64 + warp * 16 + (local % 2) * 8
                + lane // 4]

    def peer_warps(self, warp) -> list:
        group, inner = warp // 4, warp % 4
        first = (group // self.warps_n) * self.warps_n
        return [(first + g) * 4 + inner for g in range(self.warps_n)]

    def replica_guard(self, tid):
        """Lane 0 of each quad, in the first warpgroup of each warpgroup row: one holder per row."""
        first_lane = tirx.floormod(tid, 4) == 0
        if self.warps_n == 1:
            return first_lane
        return tirx.And(first_lane, tirx.floormod(tirx.floordiv(tid, 128), self.warps_n) == 0)

    def describe(self) -> str:
        return f"wgmma-rows(warpgroups={self.warps_m // 4}x{self.warps_n})"
