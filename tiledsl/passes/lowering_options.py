"""Switches of one lowering (``passes.pipeline.lower``) that passes read while it runs.

TVM's PassContext only takes registered keys, so the switches the program's pass configs ask for (TileLang's
``tl.disable_tma_lower``, ``tl.disable_warp_specialized``) are held in a context variable for the duration of the
lowering; a pass asks :func:`allowed`.
"""
from __future__ import annotations

import contextlib
import contextvars

_SWITCHES: contextvars.ContextVar[dict] = contextvars.ContextVar("tiledsl_lowering_switches", default={})


@contextlib.contextmanager
def lowering_options(**switches: bool):
    """Hold ``switches`` (name -> allowed) while the passes of one lowering run."""
    token = _SWITCHES.set(dict(switches))
    try:
        yield
    finally:
        _SWITCHES.reset(token)


def allowed(name: str) -> bool:
    """Whether the running lowering allows ``name`` (allowed unless switched off)."""
    return bool(_SWITCHES.get().get(name, True))


def opt_in(enabled: bool) -> bool:
    """Whether an opt-in schedule the user switched on (``enabled``) applies to the running lowering: the build
    lowers a program again without them when its build fails with them (``codegen/compile.py``)."""
    return enabled and allowed("opt_in_schedules")


def default_schedule(enabled: bool) -> bool:
    """Whether a schedule of :data:`config.OPT_IN_SCHEDULES` that is on by default (``enabled``: not switched off)
    applies to the running lowering: the build lowers a program again without them when its build fails with them
    and without the opt-in ones (``codegen/compile.py``)."""
    return enabled and allowed("default_schedules")


def requested(name: str) -> bool:
    """Whether the running lowering asks for ``name`` (a behaviour that is off unless switched on)."""
    return bool(_SWITCHES.get().get(name, False))
