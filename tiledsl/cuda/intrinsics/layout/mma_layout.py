"""Which element of a 16-row ``mma.sync`` tile each lane of a warp holds, and TileLang's XOR swizzle.

The fragment maps follow the PTX ISA's description of ``mma.m16n8k16`` (16-bit operands) and ``mma.m16n8k32``
(8-bit operands): a lane's ``groupID = lane // 4`` picks its row (of A, C) or column (of B), ``lane % 4`` its
place inside a row. Each function takes (lane, element index in the lane's registers) and returns coordinates
that work for Python ints and TIR expressions alike. An ``n16`` B or C tile (two ``n8`` instructions side by
side, TileLang's convention) keeps the first ``n8`` half in the first half of the lane's elements.
"""
from __future__ import annotations

from ....errors import TileProgramError


def a_fragment(lane, j, bits: int):
    """(row m, column k) of element ``j`` of a lane's A registers (16 x 16 for 16-bit, 16 x 32 for 8-bit)."""
    group, quad = lane // 4, lane % 4
    if bits == 16:  # a0..a7: pairs (g, 2q..), (g+8, 2q..), (g, 2q+8..), (g+8, 2q+8..)
        return group + 8 * ((j // 2) % 2), quad * 2 + j % 2 + 8 * (j // 4)
    if bits == 8:  # a0..a15: quads (g, 4q..), (g+8, 4q..), (g, 4q+16..), (g+8, 4q+16..)
        return group + 8 * ((j // 4) % 2), quad * 4 + j % 4 + 16 * (j // 8)
    raise TileProgramError(f"mma fragments of {bits}-bit operands are not supported (16- and 8-bit are)")


def b_fragment(lane, j, bits: int, n_dim: int = 16):
    """(column n, row k) of element ``j`` of a lane's B registers for an ``n_dim`` x K tile (n8 or n16)."""
    half = (8 if bits == 8 else 4)  # elements per n8 instruction
    group, quad = lane // 4, lane % 4
    jj = j % half if n_dim == 16 else j
    n = group + (8 * (j // half) if n_dim == 16 else 0)
    if bits == 16:  # b0..b3: (2q.., g), (2q+8.., g)
        return n, quad * 2 + jj % 2 + 8 * (jj // 2)
    if bits == 8:  # b0..b7: (4q.., g), (4q+16.., g)
        return n, quad * 4 + jj % 4 + 16 * (jj // 4)
    raise TileProgramError(f"mma fragments of {bits}-bit operands are not supported (16- and 8-bit are)")


def accumulator_fragment(lane, j):
    """(row m, column n) of element ``j`` of a lane's accumulator registers for a 16 x 16 tile (8 elements; the
    first 4 are the left n8 instruction's c0..c3) or a 16 x 8 tile (4 elements)."""
    group, quad = lane // 4, lane % 4
    return group + 8 * ((j % 4) // 2), quad * 2 + j % 2 + 8 * (j // 4)


def get_swizzle_layout(row_idx, col_idx, row_size, dtype, swizzle_bytes=None):
    """TileLang's ``get_swizzle_layout``: where element (row, col) of a shared tile with rows of ``row_size``
    elements is stored when its 16-byte chunks are XOR-swizzled in groups of ``swizzle_bytes`` (default: the row
    size, at most 128 bytes). Returns (column tile, row, swizzled column)."""
    from ....language.dtypes import canonical_name
    from tvm import DataType

    bits = DataType(canonical_name(dtype)).bits
    row_bytes = bits * int(row_size) // 8
    if row_bytes % 32:
        raise TileProgramError(f"get_swizzle_layout: a row of {row_size} x {bits}-bit elements is {row_bytes} "
                               f"bytes; the swizzle needs a multiple of 32 bytes")
    chunks = int(swizzle_bytes if swizzle_bytes is not None else min(128, row_bytes)) // 16
    per_chunk = 128 // bits
    chunk, inside = col_idx // per_chunk, col_idx % per_chunk
    xor = (row_idx % 8) // (8 // chunks)
    return chunk // chunks, row_idx, ((chunk % chunks) ^ xor) * per_chunk + inside


def make_mma_swizzle_layout(shared_buf, is_smooth: bool = False):
    """TileLang's ``make_mma_swizzle_layout``: the swizzle hint for a shared operand tile. tiledsl keeps such a
    tile in its logical order (a layout changes where elements live, never their values), so this is the same
    hint as ``tiledsl.layout.make_swizzled_layout``."""
    from ....layout import make_swizzled_layout

    return make_swizzled_layout(shared_buf)
