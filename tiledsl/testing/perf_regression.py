"""Performance-regression scripts: ``process_func`` records a latency, ``regression()`` runs a module's cases.

A TileLang ``regression_*.py`` script defines functions named ``regression_<case>``, each calling
``process_func(run_perf, **sizes)`` where ``run_perf`` returns a latency; ``regression()`` at the bottom of the
script runs every such function of the calling module in name order and prints one ``name: latency`` line per
recorded result (or one JSON line when ``TL_PERF_REGRESSION_FORMAT=json``). ``TL_PERF_REGRESSION_ONLY`` (a
comma-separated list or a JSON list of glob patterns or substrings) picks cases.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import inspect
import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

logger = logging.getLogger(__name__)

JSON_MARKER = "__TILELANG_PERF_RESULTS_JSON__="
_ATTEMPTS = 6


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One recorded latency: the measured function's name, its value, and the regression case that ran it."""

    name: str
    latency: float
    case: str | None = None


class _Recorder:
    """The measurements of the current ``regression()`` run and the case being run."""

    def __init__(self):
        self.measurements: list[Measurement] = []
        self.case: str | None = None


_recorder = _Recorder()


def _strip_prefix(name: str, prefix: str = "regression_") -> str:
    return name[len(prefix):] if name.startswith(prefix) else name


def process_func(func: Callable[..., float], name: str | None = None, /, **kwargs: Any) -> None:
    """Call ``func(**kwargs)``, which returns a latency, and record it (retried while it is not positive)."""
    label = _strip_prefix(name if name is not None else getattr(func, "__module__", "<unknown>"))
    for _ in range(_ATTEMPTS):
        latency = float(func(**kwargs))
        if latency > 0.0:
            _recorder.measurements.append(Measurement(label, latency, _recorder.case))
            return
    warnings.warn(f"{label}: latency {latency} is not positive after {_ATTEMPTS} runs; nothing recorded",
                  RuntimeWarning, stacklevel=2)


def _case_filters() -> list[str]:
    raw = os.environ.get("TL_PERF_REGRESSION_ONLY", "").strip()
    if not raw:
        return []
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        parsed = raw.split(",")
    items = [parsed] if isinstance(parsed, str) else parsed if isinstance(parsed, list) else []
    return [str(item).strip().lower() for item in items if str(item).strip()]


def _selected(function_name: str, filters: Sequence[str]) -> bool:
    if not filters:
        return True
    names = {function_name.lower(), _strip_prefix(function_name).lower()}
    return any(fnmatch.fnmatch(n, f) or f in n for f in filters for n in names)


def _report() -> None:
    if os.environ.get("TL_PERF_REGRESSION_FORMAT", "text").strip().lower() == "json":
        rows = [{k: v for k, v in dataclasses.asdict(m).items() if v is not None} for m in _recorder.measurements]
        print(JSON_MARKER + json.dumps(rows, separators=(",", ":")))
        return
    for m in _recorder.measurements:
        print(f"{m.name}: {m.latency}")


def regression(prefixes: Sequence[str] = ("regression_",), verbose: bool = True) -> None:
    """Run the calling module's ``regression_*`` functions in name order and print what they recorded."""
    caller = inspect.currentframe().f_back.f_globals
    filters = _case_filters()
    cases = sorted((name, fn) for name, fn in caller.items()
                   if callable(fn) and name.startswith(tuple(prefixes)) and _selected(name, filters))
    _recorder.measurements.clear()
    for index, (name, fn) in enumerate(cases, 1):
        _recorder.case = _strip_prefix(name)
        if verbose:
            print(f"[{index}/{len(cases)}] {_recorder.case}", end="", flush=True)
        started = time.perf_counter()
        try:
            fn()
        finally:
            _recorder.case = None
        if verbose:
            print(f" ({time.perf_counter() - started:.2f}s)", flush=True)
    _report()


__all__ = ["Measurement", "process_func", "regression"]
