"""TileLang's helper names around the ``mma.sync`` fragments (``get_mma_micro_size``, ``mma_store_index_map``,
``get_ldmatrix_offset``)."""
from __future__ import annotations

from ....errors import TileProgramError
from .mma_layout import accumulator_fragment


def get_mma_micro_size(dtype):
    """(m, n, k) of the warp-level tile one emitter step covers: 16 x 16 x 16, with k = 32 for 8-bit inputs."""
    from ....language.dtypes import canonical_name

    name = canonical_name(dtype)
    k = 32 if name in ("int8", "uint8") or name.startswith("float8") else 16
    return 16, 16, k


def mma_store_index_map(thread_id, local_id):
    """(row, column) in a 16 x 16 accumulator tile of a lane's ``local_id``-th accumulator element."""
    return accumulator_fragment(thread_id % 32, local_id)


def get_ldmatrix_offset(matrix: str, row_idx, col_idx, stride, dtype="float16", transposed: bool = False):
    """(row, column) in the stored shared tile of the row address lane ``row_idx`` gives ``ldmatrix.x4``, for
    operand ``matrix`` ("A" or "B") stored non-transposed (A as M x K, B as K x N) or ``transposed``.
    ``col_idx`` and ``stride`` are accepted for TileLang's signature and unused."""
    from .ldmatrix import ldmatrix_row

    if matrix not in ("A", "B"):
        raise TileProgramError(f"get_ldmatrix_offset: matrix must be 'A' or 'B', got {matrix!r}")
    from ....language.dtypes import canonical_name
    from tvm import DataType

    return ldmatrix_row(matrix, row_idx, DataType(canonical_name(dtype)).bits, transposed)
