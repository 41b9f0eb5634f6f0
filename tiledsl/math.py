"""Integer helpers for the Python side of a kernel factory (TileLang's ``tilelang.math``)."""
from __future__ import annotations


def next_power_of_2(n: int) -> int:
    """The smallest power of two >= ``n`` (1 for n <= 1), e.g. a tile size covering a head dimension."""
    n = int(n)
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


def cdiv(a: int, b: int) -> int:
    """Ceiling division of two ints."""
    return -(-int(a) // int(b))
