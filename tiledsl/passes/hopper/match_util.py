"""What the Hopper matchers share: the no-match signal and small structural helpers."""
from __future__ import annotations

from tvm import tirx


class NoMatch(Exception):
    """The program is not the pattern; the message says why (kept in the matcher's ``last_reason``)."""


def require(cond, reason: str) -> None:
    """Stop matching with ``reason`` unless ``cond`` holds."""
    if not cond:
        raise NoMatch(reason)


def const_int(expr, what: str) -> int:
    """``expr`` as a Python int, or no match when it is not a constant."""
    require(isinstance(expr, tirx.IntImm), f"{what} is not a constant")
    return int(expr)


def statements(body) -> list:
    """The statements of a body (one statement or a SeqStmt)."""
    return list(body.seq) if isinstance(body, tirx.SeqStmt) else [body]


def launches(body):
    """(block launches [(var, extent)], thread launches, innermost body) of a ``T.Kernel``."""
    blocks, threads = [], []
    while isinstance(body, tirx.AttrStmt) and body.attr_key == "thread_extent":
        (blocks if body.node.thread_tag.startswith("blockIdx") else threads).append((body.node.var, body.value))
        body = body.body
    return blocks, threads, body


def covers(region_arg, buf, what: str, analyzer) -> None:
    """No match unless the tile region ``region_arg`` is the whole of ``buf`` (``buf[0:n, 0:m]``)."""
    require(region_arg.source.same_as(buf), f"{what} does not use {buf.name}")
    shape = list(buf.ty.shape)
    require(len(region_arg.region) == len(shape) and
            all(analyzer.can_prove_equal(r.min, 0) and analyzer.can_prove_equal(r.extent, s)
                for r, s in zip(region_arg.region, shape)),
            f"{what} covers part of {buf.name}, not the whole tile (the kernel moves whole tiles)")


def extents_are(region_arg, extents, what: str, analyzer) -> None:
    """No match unless the region's extents are ``extents``."""
    got = [r.extent for r in region_arg.region]
    require(len(got) == len(extents) and all(analyzer.can_prove_equal(g, e) for g, e in zip(got, extents)),
            f"{what} is a region of extents {[str(g) for g in got]}, not the tile {list(extents)}")
