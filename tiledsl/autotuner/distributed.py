"""Agreement between the ranks of a torch.distributed process group while they tune, with no unbounded wait.

Ranks talk through the process group's key-value store (the TCPStore that ``init_process_group`` set up), not
through collectives: a store wait is bounded by a deadline we choose per agreement point, works whatever the
group's backend (gloo, NCCL) and never touches a GPU stream. An agreement point (:meth:`TuneSession.exchange`)
is an all-gather: every rank writes its value under ``<session>/<step>/<rank>`` and reads the others'.

While a rank is inside a session a daemon thread bumps its heartbeat counter every second. A waiting rank
raises :class:`~tiledsl.errors.AutotuneError` naming the rank it waits for when that rank

* left the session with an error (it wrote why: the others raise at once with its reason),
* stopped beating for ``heartbeat_timeout`` seconds (killed, crashed, or the store host is gone), or
* did not arrive within ``sync_timeout`` seconds (hung while alive, or never called the tuner).

Sessions are numbered per group in call order, like collectives: every rank must tune the same kernels in the
same order; the first exchange of a session compares what each rank is tuning and names any difference.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import pickle
import threading
import time

from ..errors import AutotuneError, ConfigError

logger = logging.getLogger(__name__)

DEFAULT_SYNC_TIMEOUT = 1800.0  # seconds, as torch.distributed's own default
HEARTBEAT_SECONDS = 1.0
_POLL_SECONDS = 0.05
_counters: dict[str, itertools.count] = {}
_counters_lock = threading.Lock()


def resolve_group(autotune_pg):
    """The process group to tune across: ``autotune_pg`` itself; None means the default (WORLD) group when
    torch.distributed is initialized with more than one rank; False means none. Returns None for no group."""
    if autotune_pg is False:
        return None
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch built without distributed
        if autotune_pg is None:
            return None
        raise ConfigError("autotune_pg was given but this torch has no torch.distributed") from None
    if autotune_pg is None:
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() <= 1:
            return None
        return dist.group.WORLD
    if not (dist.is_available() and dist.is_initialized()):
        raise ConfigError("autotune_pg was given but torch.distributed is not initialized: call "
                          "torch.distributed.init_process_group first (torchrun sets up its environment)")
    if not isinstance(autotune_pg, dist.ProcessGroup):
        raise ConfigError(f"autotune_pg must be a torch.distributed ProcessGroup (or None / False), got "
                          f"{type(autotune_pg).__name__}")
    if dist.get_rank(autotune_pg) < 0:
        raise ConfigError("autotune_pg: this process is not a member of the given process group")
    return autotune_pg if dist.get_world_size(autotune_pg) > 1 else None


class TuneSession:
    """One tuning (or contextual tuning) done together by the ranks of ``group``; see the module doc."""

    def __init__(self, group, label: str, sync_timeout: float | None = None, heartbeat_timeout: float | None = None):
        import torch.distributed as dist
        from torch.distributed.distributed_c10d import _get_default_store

        self.rank = dist.get_rank(group)
        self.world = dist.get_world_size(group)
        self.global_ranks = dist.get_process_group_ranks(group)
        self.sync_timeout = float(sync_timeout or DEFAULT_SYNC_TIMEOUT)
        if self.sync_timeout <= 0:
            raise ConfigError(f"autotune_sync_timeout={sync_timeout!r} must be a positive number of seconds")
        self.heartbeat_timeout = float(heartbeat_timeout or min(self.sync_timeout, 60.0))
        gid = "-".join(map(str, self.global_ranks))
        with _counters_lock:
            seq = next(_counters.setdefault(gid, itertools.count()))
        self.label = label
        self.prefix = f"tiledsl-tune/{gid}/{seq}"
        self.store = _get_default_store()
        self._step = 0
        self._stop = threading.Event()
        self._beat = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "TuneSession":
        self._guard(self._bump, "joining")
        self._beat = threading.Thread(target=self._beat_loop, daemon=True, name="tiledsl-tune-heartbeat")
        self._beat.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self._stop.set()
        if self._beat is not None:
            # a heartbeat still inside the store's C++ client when the process exits (the store host gone, the
            # interpreter finalizing) would abort the process; the loop wakes at once on _stop
            self._beat.join(timeout=2 * HEARTBEAT_SECONDS + 5.0)
        if exc is not None:
            with contextlib.suppress(Exception):  # tell the others why, so they stop at once
                self.store.set(f"{self.prefix}/abort/{self.rank}", f"{type(exc).__name__}: {exc}"[:2000])
        if exc is None and self.world > 1:
            with contextlib.suppress(Exception):  # the result is already here; a vanished store cannot spoil it
                self.store.set(f"{self.prefix}/done/{self.rank}", b"1")
        if self.rank == 0 and self.world > 1:
            # rank 0's process hosts the store: it stays until every rank has read the last values, also when it
            # stops with an error (the others still read its value of the step, e.g. to name a difference)
            with contextlib.suppress(Exception):
                self._linger(min(self.sync_timeout, 60.0))
        return False

    def _linger(self, timeout: float) -> None:
        """Wait until every other rank has left the session (done or abort written), stopped beating, or
        ``timeout`` seconds have passed."""
        start = time.monotonic()
        waiting = [r for r in range(self.world) if r != self.rank]
        seen: dict[int, tuple[int, float]] = {}
        while waiting and time.monotonic() - start < timeout:
            still = []
            for r in waiting:
                if self.store.check([f"{self.prefix}/done/{r}"]) or self.store.check([f"{self.prefix}/abort/{r}"]):
                    continue
                if self._stopped_beating(r, seen, time.monotonic()):
                    continue  # gone without a word (killed): nothing will read the store for it
                still.append(r)
            waiting = still
            time.sleep(_POLL_SECONDS)

    def _bump(self):
        self.store.add(f"{self.prefix}/hb/{self.rank}", 1)

    def _beat_loop(self):
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._bump()
            except Exception:  # the store host is gone; the waiting side reports it
                return

    # ------------------------------------------------------------------ agreement
    def exchange(self, value, what: str, timeout: float | None = None) -> list:
        """Every rank's ``value`` (picklable plain data), in rank order. ``what`` names the step in errors;
        ``timeout`` (seconds) adds to ``sync_timeout`` for a step whose work may legitimately take that long."""
        step = self._step
        self._step += 1
        base = f"{self.prefix}/{step}"
        self._guard(lambda: self.store.set(f"{base}/{self.rank}", pickle.dumps(value)), what)
        keys = [f"{base}/{r}" for r in range(self.world)]
        self._wait(keys, what, self.sync_timeout + (timeout or 0.0))
        return self._guard(lambda: [pickle.loads(self.store.get(k)) for k in keys], what)

    def _guard(self, call, what: str):
        """``call()``, with the store's network errors turned into an error that says what they mean."""
        try:
            return call()
        except Exception as err:
            raise self._store_gone(err, what) from None

    def _store_gone(self, err, what: str) -> "_PeerFailure":
        return _PeerFailure(f"{self.label}: the process group's store stopped answering while this rank "
                            f"(rank {self.rank}) was {what} ({type(err).__name__}: {_first(err)}); the rank "
                            f"hosting it (global rank 0) has probably died")

    def _wait(self, keys: list[str], what: str, timeout: float) -> None:
        start = time.monotonic()
        seen: dict[int, tuple[int, float]] = {}  # rank -> (last heartbeat value, when it last changed)
        while True:
            try:
                if self.store.check(keys):
                    return
                missing = [r for r, k in enumerate(keys) if not self.store.check([k])]
                try:
                    self._check_peers(missing, seen, what)
                except _PeerFailure:
                    # a peer may write its value, go on and stop after it (two ranks that see they tune different
                    # things): with every value here this step completes, and this rank finds out for itself
                    if self.store.check(keys):
                        return
                    raise
            except _PeerFailure:
                raise
            except Exception as err:  # the store is unreachable: its host (rank 0 of the job) is gone
                raise self._store_gone(err, what) from None
            if time.monotonic() - start > timeout:
                raise _PeerFailure(f"{self.label}: rank(s) {missing} of {self.world} did not reach the step "
                                   f"'{what}' within {timeout:g} s (hung, or not tuning the same kernels); "
                                   f"rank {self.rank} stops here")
            time.sleep(_POLL_SECONDS)

    def _check_peers(self, missing: list[int], seen: dict, what: str) -> None:
        now = time.monotonic()
        for r in missing:
            abort_key = f"{self.prefix}/abort/{r}"
            if self.store.check([abort_key]):
                why = self.store.get(abort_key).decode(errors="replace")
                raise _PeerFailure(f"{self.label}: rank {r} stopped with an error, so rank {self.rank} stops too "
                                   f"(during '{what}'): {why}")
            if not self.store.check([f"{self.prefix}/hb/{r}"]):
                continue  # not in the session yet: only sync_timeout applies
            if self._stopped_beating(r, seen, now):
                raise _PeerFailure(f"{self.label}: rank {r} stopped responding (no heartbeat for "
                                   f"{self.heartbeat_timeout:g} s: killed or crashed) while rank {self.rank} was "
                                   f"{what}; tuning stops on every rank")

    def _stopped_beating(self, r: int, seen: dict, now: float) -> bool:
        """True when rank ``r``'s heartbeat (-1 while it has none) has not changed for ``heartbeat_timeout``
        seconds; ``seen`` keeps each rank's last beat and when it changed."""
        hb_key = f"{self.prefix}/hb/{r}"
        beat = int(self.store.add(hb_key, 0)) if self.store.check([hb_key]) else -1
        last = seen.get(r)
        if last is None or last[0] != beat:
            seen[r] = (beat, now)
            return False
        return now - last[1] > self.heartbeat_timeout


class _PeerFailure(AutotuneError):
    """Another rank failed, died or hung; this rank stops without blaming itself."""


def _first(err) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else ""


def describe_mismatch(mine: dict, theirs: dict, rank: int, other: int) -> str:
    """Which parts of two ranks' tuning descriptions differ (for the error when ranks disagree)."""
    parts = [k for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)]
    lines = [f"ranks {other} and {rank} are not tuning the same thing; they differ in: {', '.join(parts)}"]
    for k in parts[:4]:
        lines.append(f"  {k}: rank {other}: {str(theirs.get(k))[:300]}")
        lines.append(f"  {k}: rank {rank}: {str(mine.get(k))[:300]}")
    lines.append("every rank must tune the same kernels with the same arguments, configs and settings, in the "
                 "same order (or pass autotune_pg=False to tune each rank on its own)")
    return "\n".join(lines)
