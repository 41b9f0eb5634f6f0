"""Find wgmma reads of shared tiles that the threads wrote with no ``fence.proxy.async`` in between, in a kernel's
generated CUDA source (no GPU needed).

The tensor cores read shared memory through the async proxy; a tile the threads stored (generic proxy) must be
fenced (``fence.proxy.async``) after the store and before the wgmma that reads it, or the wgmma may read stale data
(2026-12-05: a gemm staging its register operand lost its fence, and dK came out wrong on the H100). The check is
textual, in program order: for each wgmma in a loop, the last store to each tile its descriptors name, earlier in
the same iteration or, failing that, later in the previous one (the loop body read as a cycle), or before the
loop; a fence must lie between that store and the wgmma. Stores through helper functions are not seen (a missed
store can hide a missing fence, never invent one).
"""
from __future__ import annotations

import re

FENCE = "fence_proxy_proxy_async_shared__cta();"
_WGMMA = re.compile(r"tvm_builtin_ptx_wgmma_\w+_[rs]s_mma_async\w*\(")
_DESCRIPTOR_TILE = re.compile(r"cvta_generic_to_shared\(\(&\((\w+)\[")


def _past_closing(src: str, opening: int) -> int:
    """The index just past the bracket that closes the one at ``src[opening]`` (``(`` or ``{``), or ``len(src)``."""
    close = {"(": ")", "{": "}"}[src[opening]]
    depth, i = 0, opening
    while i < len(src):
        depth += {src[opening]: 1, close: -1}.get(src[i], 0)
        i += 1
        if depth == 0:
            break
    return i


def _call_end(src: str, start: int) -> int:
    """The index just past the parenthesized call starting at ``src[start]`` (its name's first character)."""
    return _past_closing(src, src.index("(", start))


def _enclosing_loop(src: str, pos: int) -> tuple[int, int] | None:
    """(start, end) of the body of the innermost ``for`` loop around ``pos`` (braces matched), or None."""
    best = None
    for m in re.finditer(r"for \([^;]*;[^;]*;[^)]*\) \{", src[:pos]):
        i = _past_closing(src, m.end() - 1)
        if i > pos:
            best = (m.end(), i - 1)  # later matches are nested deeper
    return best


def _stores(text: str, tile: str) -> list[int]:
    """Positions of the generic stores to ``tile`` in ``text``: ``*(T*)(tile + ...) =`` or ``tile[...] =``."""
    found = []
    for m in re.finditer(r"\*\(\w+\*\)\(" + tile + r" \+|[^\w]" + tile + r"\[", text):
        depth, i = 1, m.end()  # inside the address's parenthesis or bracket
        while i < len(text) and (depth or text[i] not in "=;"):  # skip the address to what follows it
            depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(text[i], 0)
            if depth < 0:
                break
            i += 1
        if text[i:i + 2] == "= " and text[i:i + 3] != "== ":
            found.append(m.start())
    return found


def unfenced_wgmma_reads(source: str) -> list[str]:
    """The shared tiles that a wgmma of the kernel (``source``: the CUDA code) reads after a store by the threads
    with no ``fence.proxy.async`` in between (see the module docstring); empty when every such read is fenced."""
    body = source[source.index("__global__"):]
    problems = []
    for m in _WGMMA.finditer(body):
        call = body[m.start():_call_end(body, m.start())]
        loop = _enclosing_loop(body, m.start())
        start, end = loop if loop is not None else (m.start(), m.start())  # no loop: an empty one here
        for tile in set(_DESCRIPTOR_TILE.findall(call)):
            inside = _stores(body[start:end], tile)
            earlier = [start + s for s in inside if start + s < m.start()]
            if earlier:
                gap = body[earlier[-1]:m.start()]
            elif inside:  # written later in the iteration: read by the next one
                gap = body[start + inside[-1]:end] + body[start:m.start()]
            else:
                outside = _stores(body[:start], tile)
                if not outside:
                    continue  # written by TMA only
                gap = body[outside[-1]:m.start()]
            if FENCE not in gap:
                problems.append(tile)
    return sorted(set(problems))
