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


def schedule(name: str) -> bool:
    """Whether the schedule ``name`` of :data:`config.OPT_IN_SCHEDULES` applies to the running lowering: switched
    on (its default there unless the environment says otherwise) and not left out by the build's retry, which
    lowers a failing program again first without the opt-in schedules switched on, then without those on by
    default (``codegen/compile.py``)."""
    from .. import config

    group = "default_schedules" if config.OPT_IN_SCHEDULES[name] == "1" else "opt_in_schedules"
    return config.schedule_enabled(name) and allowed(group)


def requested(name: str) -> bool:
    """Whether the running lowering asks for ``name`` (a behaviour that is off unless switched on)."""
    return bool(_SWITCHES.get().get(name, False))
