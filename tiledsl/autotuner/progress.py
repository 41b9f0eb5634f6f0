"""What a tuning run shows while it works: a progress bar on a terminal, progress lines elsewhere (a CI log, a
notebook, output piped to a file), and one line naming the winner at the end, all on stderr.

This is progress output, like tqdm's bar, not logging (the full table of trials is logged at INFO). Users expect it
from TileLang and Triton; ``quiet=True`` or ``TILEDSL_AUTO_TUNING_QUIET=1`` turns it off.
"""
from __future__ import annotations

import sys
import time

from .. import config

#: seconds between two progress lines when stderr is not a terminal
LINE_INTERVAL = 10.0


def is_quiet(quiet: bool | None) -> bool:
    """``quiet`` if given, else ``TILEDSL_AUTO_TUNING_QUIET``."""
    return config.tuning_quiet() if quiet is None else bool(quiet)


class Progress:
    """The progress of one run over ``total`` configs, ``initial`` of them already done (resumed or pruned)."""

    def __init__(self, name: str, total: int, initial: int, quiet: bool, stream=None):
        self.name, self.total, self.done = name, total, initial
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.best: float | None = None
        self._bar = None
        self._last_line = 0.0
        if quiet:
            return
        if _is_terminal(self.stream):
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=f"Tuning {name}", unit="cfg", leave=False,
                             file=self.stream)
        else:
            self._line(f"tuning {name}: {total} configs" + (f", {initial} already done" if initial else ""))

    def update(self, latency_ms: float | None) -> None:
        """One more config finished (``latency_ms`` when it passed)."""
        self.done += 1
        if latency_ms is not None and (self.best is None or latency_ms < self.best):
            self.best = latency_ms
            if self._bar is not None:
                self._bar.set_postfix(best_ms=f"{latency_ms:.4g}")
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(1)
        elif time.monotonic() - self._last_line >= LINE_INTERVAL or self.done == self.total:
            best = f", best {self.best:.4g} ms" if self.best is not None else ""
            self._line(f"tuning {self.name}: {self.done}/{self.total} configs done{best}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _line(self, text: str) -> None:
        self._last_line = time.monotonic()
        announce(text, False, self.stream)


def announce(text: str, quiet: bool, stream=None) -> None:
    """One line on stderr (``tiledsl: <text>``) unless ``quiet``: the winner of a run."""
    if quiet:
        return
    stream = stream if stream is not None else sys.stderr
    try:
        stream.write(f"tiledsl: {text}\n")
        stream.flush()
    except (OSError, ValueError):  # a closed stream must not fail the run
        pass


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
