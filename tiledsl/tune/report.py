"""The tuning table printed to stderr when ``TILEDSL_PRINT_AUTOTUNING=1`` (or ``autotune_verbose=True``): every
config's status and time, then the winner. This is the one place tiledsl writes to stderr on purpose (the user
asked for it, as with Triton's ``TRITON_PRINT_AUTOTUNING``); otherwise tables go to the logger at INFO."""
from __future__ import annotations

import contextlib
import contextvars
import sys

from .. import config as env

#: What the table's heading adds after the name (the bucket, when the tuning runs for one).
_context = contextvars.ContextVar("tiledsl_tuning_context", default="")


@contextlib.contextmanager
def tuning_context(text: str):
    """Tables of tunings run inside this block name ``text`` (e.g. ``bucket [64,4096,4096]``) in their heading."""
    token = _context.set(text)
    try:
        yield
    finally:
        _context.reset(token)


def format_table(name: str, rows: list, winner: dict, winner_ms: float | None, seconds: float | None = None,
                 context: str = "") -> str:
    """The table's text; ``rows`` are ``(config, status, latency_ms or None, reason or None)``."""
    head = f"[tiledsl autotune] {name}" + (f" {context}" if context else "")
    if seconds is not None:
        head += f": tuned in {seconds:.2f} s"
    lines = [head, f"  {'status':<15} {'time ms':>10}  config / reason"]
    order = sorted(rows, key=lambda r: (r[2] is None, r[2] if r[2] is not None else 0.0))
    for cfg, status, ms, reason in order:
        text = f"{ms:.4g}" if ms is not None else "-"
        tail = f"{cfg}" + (f"  {str(reason).splitlines()[0][:160]}" if reason else "")
        lines.append(f"  {status:<15} {text:>10}  {tail}")
    best = f"{winner_ms:.4g} ms" if winner_ms is not None else "-"
    lines.append(f"  best config {winner} ({best})")
    return "\n".join(lines)


def result_rows(result) -> list:
    """Table rows of an AutotuneResult."""
    return [(t.config, t.status, t.best_latency, t.reason) for t in result.trials]


def print_result_table(name: str, result, seconds: float | None = None, verbose: bool = False) -> None:
    """Print a fresh AutotuneResult's table when TILEDSL_PRINT_AUTOTUNING=1 or ``verbose``."""
    if verbose or env.print_autotuning():
        maybe_print(format_table(name, result_rows(result), result.config, result.latency, seconds,
                                 context=_context.get()), verbose)


def maybe_print(text: str, verbose: bool = False) -> None:
    """Write ``text`` to stderr when TILEDSL_PRINT_AUTOTUNING=1 or ``verbose``."""
    if verbose or env.print_autotuning():
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
