"""The autotuning switch: whether a call of an ``@autotune`` factory may start a tuning.

``TILEDSL_AUTOTUNE=0|1`` sets the default (1); ``disable_autotune()`` / ``enable_autotune()`` override it for the
process. Disabled, a call uses a cached or shipped result if there is one, else the factory's ``default_config``
(else its first config), and never tunes. Explicit requests (``factory.tune(...)``, ``AutoTuner.run()``,
``tiledsl.warmup``, the ``python -m tiledsl.tune`` command) tune regardless.
"""
from __future__ import annotations

import threading
import weakref

from .. import config as env

_override: bool | None = None
_lock = threading.Lock()
_watchers: "weakref.WeakSet" = weakref.WeakSet()


def enable_autotune() -> None:
    """Let calls tune on a miss again; kernels picked from defaults while tuning was off are forgotten."""
    global _override
    with _lock:
        _override = True
        watchers = list(_watchers)
    for w in watchers:
        w.forget_untuned()


def disable_autotune() -> None:
    """Never tune on a call (cached, shipped or default configs only) until ``enable_autotune()``."""
    global _override
    with _lock:
        _override = False


def is_autotune_enabled() -> bool:
    """True when a call may tune: the last enable/disable call, else ``TILEDSL_AUTOTUNE`` (default 1)."""
    override = _override
    return env.autotune_enabled() if override is None else override


def reset_autotune_switch() -> None:
    """Forget enable/disable calls (back to ``TILEDSL_AUTOTUNE``); for tests and long-lived services."""
    global _override
    with _lock:
        _override = None


def watch(obj) -> None:
    """Register an object with ``forget_untuned()``, called when tuning is enabled again."""
    with _lock:
        _watchers.add(obj)
