"""Trial records: one JSON line per finished candidate, appended as it finishes.

The log lives in the tuning cache (``<TILEDSL_CACHE_DIR>/autotune/trials/<family>/trials.jsonl``, never in the
working directory), where ``family`` is the tuning key without the config space: a run that was killed, or a run
over a space that shares configs with an earlier one, reuses every trial already recorded for its configs. The
finished result entry holds a copy of the trials of its own space. A torn last line (a kill mid-write) is ignored.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .space import config_id

# outcome of a candidate
OK = "ok"
PRUNED = "pruned"
BUILD_ERROR = "build_error"
BUILD_TIMEOUT = "build_timeout"
RESOURCE_ERROR = "resource_error"
RUN_ERROR = "run_error"
RUN_TIMEOUT = "run_timeout"
CRASH = "crash"
WRONG_RESULT = "wrong_result"
#: a worker could not start or be prepared (twice): the machine's failure, not the candidate's. Never written to the
#: trial log, so the next run tries the candidate again.
INFRA_ERROR = "infra_error"
STATUSES = (OK, PRUNED, BUILD_ERROR, BUILD_TIMEOUT, RESOURCE_ERROR, RUN_ERROR, RUN_TIMEOUT, CRASH, WRONG_RESULT)


@dataclass
class Trial:
    """What happened to one config."""

    config: dict
    status: str
    latency: float | None = None  # ms, first measurement
    reason: str | None = None
    compile_seconds: float | None = None
    artifact: str | None = None  # the built kernel's folder (in the kernel cache)
    retimed_latency: float | None = None  # ms, the finalists' re-timing
    device: str | None = None  # where it was benchmarked
    early_stopped: bool = False  # timed on a few iterations only: far slower than the best so far
    resumed: bool = False  # read from an earlier run's log
    kernel: dict | None = None  # the built kernel's path and real parameters (JITKernel.kernel_info)
    time: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def best_latency(self) -> float | None:
        return self.retimed_latency if self.retimed_latency is not None else self.latency

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("resumed")
        return data

    @staticmethod
    def from_json(data: dict) -> "Trial":
        known = {k: data[k] for k in ("config", "status", "latency", "reason", "compile_seconds", "artifact",
                                      "retimed_latency", "early_stopped", "device", "time", "kernel")
                 if k in data}
        return Trial(**known)


class TrialLog:
    """An append-only JSONL file of trials."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, trial: Trial) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(trial.to_json(), sort_keys=True) + "\n"
        with open(self.path, "a") as f:  # one write per line; O_APPEND keeps lines whole
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def load(self) -> dict[str, Trial]:
        """The latest trial per config id."""
        out: dict[str, Trial] = {}
        if not self.path.exists():
            return out
        for line in self.path.read_text().splitlines():
            try:
                trial = Trial.from_json(json.loads(line))
            except (ValueError, TypeError, KeyError):
                continue  # a torn write from a killed run
            if trial.status in STATUSES:
                out[config_id(trial.config)] = trial
        return out

    def reset(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def write_trials(path: Path, trials: list[Trial]) -> None:
    """Write ``trials`` as a fresh JSONL file."""
    with open(path, "w") as f:
        for t in trials:
            f.write(json.dumps(t.to_json(), sort_keys=True) + "\n")


def read_trials(path: Path) -> list[Trial]:
    """The trials of a JSONL file, in order."""
    out = []
    if Path(path).exists():
        for line in Path(path).read_text().splitlines():
            try:
                out.append(Trial.from_json(json.loads(line)))
            except (ValueError, TypeError, KeyError):
                continue
    return out
