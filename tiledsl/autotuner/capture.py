"""``set_autotune_inputs``: tune on these exact tensors.

As a context manager (TileLang's form) the tensors apply inside the ``with`` block; as a plain call they apply to
every later tuning in this thread until ``set_autotune_inputs(None)``. The tensors are the kernel's inputs (its
parameters not named by ``out_idx``), in order.
"""
from __future__ import annotations

import threading

_state = threading.local()


def _stack() -> list:
    if not hasattr(_state, "stack"):
        _state.stack = []
    return _state.stack


class set_autotune_inputs:  # noqa: N801 - a function-like name, as in TileLang
    """``with tiledsl.set_autotune_inputs(a, b): kernel = matmul(M, N, K)`` (or a plain call)."""

    def __init__(self, *tensors):
        if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
            tensors = tuple(tensors[0])
        stack = _stack()
        if len(tensors) == 1 and tensors[0] is None:
            stack.clear()
            self._pushed = False
            return
        stack.append(tuple(tensors))
        self._pushed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        stack = _stack()
        if self._pushed and stack:
            stack.pop()
        return False


def get_autotune_inputs():
    """The tensors set by the innermost ``set_autotune_inputs``, or None."""
    stack = _stack()
    return stack[-1] if stack else None
