"""Carry a tiledsl error out of a Python pass: TVM's pass runner turns every Python exception into a RuntimeError,
so a pass stores the original here and ``pipeline.lower`` raises it again. ``source_line`` points an error at the
user's line."""
from __future__ import annotations

import functools
import linecache
import threading

from ..errors import TileDSLError

_pending = threading.local()


def keep_tiledsl_errors(fn):
    """Decorator for a pass function: a TileDSLError it raises is remembered before TVM wraps it."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TileDSLError as err:
            _pending.error = err
            raise
    return wrapper


def take_pending_error():
    """The TileDSLError a pass raised last in this thread (cleared), or None."""
    err = getattr(_pending, "error", None)
    _pending.error = None
    return err


def source_line(span) -> str:
    """`` --> file:line`` and the line itself, for a statement's span (as the parser reports a line)."""
    spans = getattr(span, "spans", None)
    if spans:  # a statement of a T.macro: (the macro's call, ..., the statement's own line)
        span = spans[-1]
    if span is None or getattr(span, "source_name", None) is None:
        return ""
    path, line = str(span.source_name.name), int(span.line)
    text = linecache.getline(path, line).rstrip()
    return f"\n --> {path}:{line}" + (f"\n{line:4d} | {text}" if text else "")
