"""Row addresses for ``ldmatrix``: which row of a shared tile each lane points at, so that the loaded registers
are exactly the ``mma.sync`` operand fragments of :mod:`.mma_layout`.

``ldmatrix.x4`` loads four 8 x 16-byte matrices; lanes ``8q .. 8q+7`` give the rows of matrix ``q`` and register
``q`` of every lane receives its piece of matrix ``q`` (``.trans`` transposes 16-bit matrices on the way). The
order of the four matrices below is the order of the operand's registers (``.x2`` uses the first two).
"""
from __future__ import annotations

from ....errors import TileProgramError


def ldmatrix_available(matrix: str, bits: int, transposed: bool) -> bool:
    """Whether ``ldmatrix`` can load this operand: 16-bit tiles either way; 8-bit tiles only K-contiguous (A
    stored M x K, B stored N x K), as ``.trans`` moves 16-bit elements."""
    if bits == 16:
        return True
    if bits == 8:
        return (matrix == "A") != transposed
    return False


def ldmatrix_trans(matrix: str, transposed: bool) -> bool:
    """Whether the ``.trans`` form is needed: when the stored tile is K-major for the operand's registers."""
    return transposed if matrix == "A" else not transposed


def ldmatrix_row(matrix: str, lane, bits: int, transposed: bool):
    """(row, column) of the stored tile (A: M x K or, transposed, K x M; B: K x N or, transposed, N x K) whose
    address ``lane`` gives to ``ldmatrix.x4`` for one 16-row operand tile (A: 16 x k, B: 16 x k with n = 16)."""
    if not ldmatrix_available(matrix, bits, transposed):
        raise TileProgramError(f"ldmatrix cannot load {bits}-bit operand {matrix} stored "
                               f"{'transposed' if transposed else 'untransposed'}")
    q, r = lane // 8, lane % 8
    width = 8 if bits == 16 else 16  # elements in one 16-byte matrix row
    if matrix == "A":
        if transposed:  # stored K x M: matrix q is (m 8*(q%2).., k 8*(q//2)..)
            return r + 8 * (q // 2), 8 * (q % 2)
        return r + 8 * (q % 2), width * (q // 2)  # M x K
    if transposed:  # B stored N x K: matrix q is (n 8*(q//2).., k width*(q%2)..)
        return r + 8 * (q // 2), width * (q % 2)
    return r + 8 * (q % 2), 8 * (q // 2)  # K x N, 16-bit only (.trans)
