"""Carry a tiledsl error out of a Python pass: TVM's pass runner turns every Python exception into a RuntimeError,
so a pass stores the original here and ``pipeline.lower`` raises it again."""
from __future__ import annotations

import functools
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
