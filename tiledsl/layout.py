"""Shared-memory layout hints, as TileLang's ``tilelang.layout`` spells them.

``T.annotate_layout({A_shared: make_swizzled_layout(A_shared)})`` ports unchanged: tiledsl accepts and checks the
hint, and chooses shared-memory layouts itself (XOR swizzles that give the same values: a layout never changes
what a program computes, only its bank conflicts). A ``T.Layout(shape, fn)`` on a shared tile (TileLang's
hand-written GEMMs build their swizzle that way) is accepted when it is a permutation, and the tile stays in
logical order. Fragment layouts are always inferred from the fragments' users,
so layout objects other than these swizzle hints are refused with an error naming the buffer.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import TileProgramError


@dataclass(frozen=True)
class SwizzleHint:
    """A request to swizzle one shared buffer (``kind``: how TileLang named the swizzle)."""

    buffer: object
    kind: str


def _hint(buffer, kind: str) -> SwizzleHint:
    if not _is_shared(buffer):
        raise TileProgramError(f"{kind}: {_name(buffer)} is not a shared-memory buffer (T.alloc_shared)")
    return SwizzleHint(buffer, kind)


def make_swizzled_layout(buffer, k_major: bool = True, allow_pad: bool = True) -> SwizzleHint:
    """The swizzled layout of a shared tile (TileLang's default choice)."""
    return _hint(buffer, "make_swizzled_layout")


def make_wgmma_swizzled_layout(buffer, continuity=None, k_major: bool = True) -> SwizzleHint:
    """The swizzle wgmma reads a shared tile with."""
    return _hint(buffer, "make_wgmma_swizzled_layout")


def make_full_bank_swizzled_layout(buffer) -> SwizzleHint:
    """The 128-byte swizzle."""
    return _hint(buffer, "make_full_bank_swizzled_layout")


def make_half_bank_swizzled_layout(buffer) -> SwizzleHint:
    """The 64-byte swizzle."""
    return _hint(buffer, "make_half_bank_swizzled_layout")


def make_quarter_bank_swizzled_layout(buffer) -> SwizzleHint:
    """The 32-byte swizzle."""
    return _hint(buffer, "make_quarter_bank_swizzled_layout")


@dataclass(frozen=True)
class IndexLayout:
    """``T.Layout(shape, lambda i, j: [...])``: where each element of a tensor is stored (TileLang's spelling)."""

    shape: tuple
    forward: object


def Layout(shape, forward_fn) -> IndexLayout:  # noqa: N802 - TileLang's name
    """A layout given by its index function. tiledsl accepts it on shared tiles (when it is a permutation: the
    tile stays in logical order, as with the swizzle hints) and on global tensors, where it leaves the tensor
    in its logical order: programs that annotate the same layout on every kernel touching the tensor compute the
    same values (torch code reading such an intermediate sees logical order, unlike on TileLang)."""
    if not callable(forward_fn):
        raise TileProgramError(f"T.Layout(shape, fn): fn must be a function of the indices, got {forward_fn!r}")
    return IndexLayout(tuple(shape), forward_fn)


def annotate_layout(layout_map) -> None:
    """``T.annotate_layout({buffer: hint, ...})``: checks the hints; emits nothing (see the module doc)."""
    if not isinstance(layout_map, dict):
        raise TileProgramError("T.annotate_layout takes a dict {shared buffer: layout hint}, got "
                               f"{type(layout_map).__name__}")
    for buffer, layout in layout_map.items():
        if isinstance(layout, IndexLayout) and _scope(buffer) == "global":
            continue  # a global tensor stays in logical order (see Layout)
        if isinstance(layout, IndexLayout) and _is_shared(buffer):
            _check_permutation(buffer, layout)  # a shared tile stays in logical order too (see the module doc)
            continue
        if not isinstance(layout, SwizzleHint):
            raise TileProgramError(
                f"T.annotate_layout: the layout of {_name(buffer)} is {type(layout).__name__}; tiledsl takes only "
                f"swizzle hints (tiledsl.layout.make_swizzled_layout and its kin) and infers fragment layouts itself")
        if not _is_shared(buffer):
            raise TileProgramError(f"T.annotate_layout: {_name(buffer)} is not a shared-memory buffer")
        if not layout.buffer.same_as(buffer):
            raise TileProgramError(f"T.annotate_layout: the hint for {_name(buffer)} was made for "
                                   f"{_name(layout.buffer)}")
    return None


def _check_permutation(buffer, layout: IndexLayout, limit: int = 1 << 16) -> None:
    """Refuse an index layout of a shared tile that sends two elements to one place (checked on tiles of at most
    ``limit`` elements whose layout gives integers for integer indices; others are taken as they are)."""
    import itertools
    import math

    try:
        shape = [int(x) for x in buffer.shape]
    except TypeError:
        return
    if not shape or any(x <= 0 for x in shape) or math.prod(shape) > limit:
        return
    seen = set()
    for index in itertools.product(*[range(x) for x in shape]):
        try:
            place = tuple(int(v) for v in layout.forward(*index))
        except (TypeError, ValueError):
            return  # the layout builds expressions: nothing to check here
        if place in seen:
            raise TileProgramError(f"T.annotate_layout: the layout of {_name(buffer)} sends two elements to "
                                   f"{list(place)}; a layout must be a permutation of the tile")
        seen.add(place)


def _scope(buffer) -> str:
    try:
        return str(buffer.scope())
    except Exception:  # not a buffer
        return ""


def _is_shared(buffer) -> bool:
    scope = getattr(buffer, "scope", None)
    try:
        return callable(scope) and str(scope()).startswith("shared")
    except Exception:  # not a buffer
        return False


def _name(buffer) -> str:
    return getattr(buffer, "name", None) or repr(buffer)
