"""``@tiledsl.contextual_autotune``: tune every ``@autotune`` kernel inside a function as one unit, in the real
context of that function (its other kernels, its side effects, its communication between ranks), as
Triton-distributed's ``contextual_autotune`` does.

The first call of the decorated function tunes. Its kernels' candidates are compiled in parallel worker
processes (``par_compile``) the first time each kernel is reached; then the function is run again and again in
this process, and every run launches one candidate of *every* kernel, so kernels advance in lock-step:
``n_warmup`` untimed launches, then ``n_repeat`` timed ones per candidate (CUDA events on the current stream; the
wall clock on the CPU). The median of each candidate's timed launches is its time. With a process group the ranks
agree on the candidates (a candidate that fails to build, raises or fails its ``ref_prog`` check on one rank is
dropped on all) and on each kernel's winner (the minimum over candidates of the maximum over ranks). Then the
function runs once more with the winners, and that run's value is returned; later calls use the winners directly.

``restore_args`` (default True): the function's tensor arguments are copied before tuning and restored before each
run, so in-place updates made by one run do not pile up into the next (and the returned run sees the original
values). Other side effects (state outside the arguments) happen once per run: the function must tolerate being
run many times. Launches are not isolated in worker processes here: a candidate that crashes the process kills
it (the ``@autotune`` path isolates; this one cannot, its kernels run inside the user's function).
Results live in memory (``.results``), not in the tuning cache.
"""
from __future__ import annotations

import functools
import inspect
import logging
import statistics
import threading
import time

from ..errors import AutotuneError, ConfigError
from . import records, space
from .checker import as_list, compare
from .distributed import TuneSession, describe_mismatch, resolve_group

logger = logging.getLogger(__name__)
_active = threading.local()


def current():
    """The contextual tuner whose function is running in this thread, or None."""
    return getattr(_active, "tuner", None)


class _Slot:
    """One tuned kernel (an ``@autotune`` factory with one set of arguments) inside the function."""

    def __init__(self, name: str, configs: list[dict], kernels: list, check: dict):
        self.name, self.configs, self.kernels, self.check = name, configs, kernels, check
        self.failed: dict[int, str] = {i: "build failed" for i, k in enumerate(kernels) if k is None}
        self.samples: list[list] = [[] for _ in kernels]  # floats (ms), or CUDA event pairs until resolved
        self.checked: set[int] = set()
        self.winner: int | None = None

    def fallback(self) -> int:
        for i, k in enumerate(self.kernels):
            if k is not None and i not in self.failed:
                return i
        raise AutotuneError(f"contextual tuning: every candidate of {self.name} failed: "
                            f"{sorted(self.failed.items())[:3]}")


class _Launch:
    """What ``factory(*args)`` returns while tuning: launches the current candidate and times it."""

    def __init__(self, tuner: "ContextualTuner", slot: _Slot):
        self._tuner, self._slot = tuner, slot

    def __getattr__(self, name):
        return getattr(self._slot.kernels[self._slot.fallback()], name)

    def __call__(self, *inputs, **kw):
        return self._tuner._launch(self._slot, inputs, kw)


class ContextualTuner:
    """The decorated function; see the module doc."""

    def __init__(self, fn, n_warmup: int, n_repeat: int, autotune_pg, sync_timeout, restore_args: bool):
        functools.update_wrapper(self, fn)
        if not isinstance(n_warmup, int) or n_warmup < 0 or not isinstance(n_repeat, int) or n_repeat < 1:
            raise ConfigError(f"contextual_autotune: n_warmup={n_warmup!r} must be >= 0 and n_repeat={n_repeat!r} "
                              f">= 1 (launches per candidate)")
        self.fn, self.n_warmup, self.n_repeat = fn, n_warmup, n_repeat
        self.autotune_pg, self.sync_timeout, self.restore_args = autotune_pg, sync_timeout, restore_args
        self.slots: dict = {}  # (id(factory), key) -> _Slot, in the order the function reaches them
        self.results: dict[str, dict] = {}  # kernel name -> {"config", "latency_ms", "trials"}
        self._tuned = False
        self._run = 0
        self._session = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ entry
    def __call__(self, *args, **kwargs):
        with self._lock:
            if not self._tuned:
                return self._tune(args, kwargs)
        return self._call(args, kwargs)

    def _call(self, args, kwargs):
        previous = current()
        _active.tuner = self
        try:
            return self.fn(*args, **kwargs)
        finally:
            _active.tuner = previous

    def _tune(self, args, kwargs):
        import torch

        saved = None
        if self.restore_args:
            saved = [(t, t.detach().clone()) for t in list(args) + list(kwargs.values())
                     if isinstance(t, torch.Tensor)]
        group = resolve_group(self.autotune_pg)
        session = None
        if group is not None:
            session = TuneSession(group, f"contextual tuning of {self.__name__}", self.sync_timeout)
        start = time.perf_counter()
        with session if session is not None else _nothing():
            self._session = session
            self._run = 0
            while True:
                if saved is not None and self._run > 0:
                    for t, copy in saved:
                        t.copy_(copy)
                self._call(args, kwargs)
                self._sync()
                self._run += 1
                if all(self._run >= len(s.kernels) * self._per_candidate() for s in self.slots.values()):
                    break
            self._decide()
        self._tuned = True
        logger.info("contextual tuning of %s: %d runs in %.1f s; winners %s", self.__name__, self._run,
                    time.perf_counter() - start, {k: v["config"] for k, v in self.results.items()})
        if saved is not None:
            for t, copy in saved:
                t.copy_(copy)
        return self._call(args, kwargs)

    def _per_candidate(self) -> int:
        return self.n_warmup + self.n_repeat

    # ------------------------------------------------------------------ inside the function
    def kernel_for(self, impl, args, kwargs):
        """Called by ``AutotuneImpl.__call__`` while this function runs: the winner, or a timing launcher."""
        key = (id(impl), impl._key(args, kwargs))
        slot = self.slots.get(key)
        if slot is None:
            if self._tuned or self._run > 0:
                raise AutotuneError(f"contextual tuning of {self.__name__}: {impl.__name__}{args} was not called "
                                    f"in the first run of the function; every run must call the same kernels")
            slot = self.slots[key] = self._new_slot(impl, args, kwargs)
        if self._tuned:
            return slot.kernels[slot.winner]
        return _Launch(self, slot)

    def _new_slot(self, impl, args, kwargs) -> _Slot:
        func = impl.jit_impl.func
        configs = space.materialize(impl.configs, func, args, kwargs)
        configs = [c for c in configs if not space.user_prune(impl.prune_fn, c, args, kwargs)]
        bound = dict(inspect.signature(func).bind_partial(*args, **kwargs).arguments)
        timeout = impl.tuner_kwargs.get("timeout")
        kernels = impl.jit_impl.par_compile([dict(bound, **c) for c in configs], ignore_error=True,
                                            timeout=timeout) if configs else []
        name = f"{impl.__name__}{tuple(args)}"
        slot = _Slot(name, configs, kernels, impl.tuner_kwargs)
        if self._session is not None:
            mine = {"what": {"kernel": name, "configs": [space.config_id(c) for c in configs]},
                    "failed": sorted(slot.failed)}
            every = self._session.exchange(mine, f"compiling the candidates of {name}")
            for r, theirs in enumerate(every):
                if theirs["what"] != every[0]["what"]:
                    raise ConfigError(describe_mismatch(theirs["what"], every[0]["what"], r, 0))
                for i in theirs["failed"]:
                    slot.failed.setdefault(i, f"build failed on rank {r}")
        if not configs:
            raise ConfigError(f"contextual tuning: {name} has no configs to try")
        slot.fallback()
        return slot

    def _launch(self, slot: _Slot, inputs, kw):
        per = self._per_candidate()
        index, phase = divmod(self._run, per)
        if index >= len(slot.kernels) or index in slot.failed:
            return slot.kernels[slot.fallback()](*inputs, **kw)  # keeps the function (and the ranks) going
        kernel = slot.kernels[index]
        check = slot.check.get("ref_prog") is not None and index not in slot.checked and kernel.out_idx
        expected = self._reference(slot, inputs) if check else None
        timed = phase >= self.n_warmup
        try:
            out, sample = self._timed(kernel, inputs, kw) if timed else (kernel(*inputs, **kw), None)
        except Exception as err:
            slot.failed[index] = f"{records.RUN_ERROR}: {type(err).__name__}: {err}"[:600]
            return slot.kernels[slot.fallback()](*inputs, **kw)
        if expected is not None:
            slot.checked.add(index)
            why = compare(as_list(out), expected, slot.check.get("rtol", 1e-2), slot.check.get("atol", 1e-2),
                          slot.check.get("max_mismatched_ratio", 0.01))
            if why:
                slot.failed[index] = f"{records.WRONG_RESULT}: {why}"
        if sample is not None:
            slot.samples[index].append(sample)
        return out

    @staticmethod
    def _reference(slot: _Slot, inputs):
        import torch

        wide = [t.float() if isinstance(t, torch.Tensor) and t.dtype in (torch.float16, torch.bfloat16) else t
                for t in inputs]
        return [t.detach() for t in as_list(slot.check["ref_prog"](*wide))]

    @staticmethod
    def _timed(kernel, inputs, kw):
        import torch

        on_cuda = any(isinstance(t, torch.Tensor) and t.is_cuda for t in inputs)
        if on_cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = kernel(*inputs, **kw)
            end.record()
            return out, (start, end)
        t0 = time.perf_counter()
        out = kernel(*inputs, **kw)
        return out, (time.perf_counter() - t0) * 1e3

    @staticmethod
    def _sync():
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()

    # ------------------------------------------------------------------ the pick
    def _decide(self) -> None:
        mine = []
        for slot in self.slots.values():
            times = []
            for i, samples in enumerate(slot.samples):
                ms = [s if isinstance(s, float) else s[0].elapsed_time(s[1]) for s in samples]
                times.append(statistics.median(ms) if ms and i not in slot.failed else None)
            mine.append({"times": times, "failed": slot.failed})
        every = [mine]
        if self._session is not None:
            every = self._session.exchange(mine, "comparing the candidates' times")
        for n, slot in enumerate(self.slots.values()):
            worst: list = [0.0] * len(slot.kernels)
            for r, theirs in enumerate(every):
                for i, why in theirs[n]["failed"].items():
                    slot.failed.setdefault(int(i), why if len(every) == 1 else f"on rank {r}: {why}")
                for i, t in enumerate(theirs[n]["times"]):
                    worst[i] = None if t is None or worst[i] is None else max(worst[i], t)
            ok = [i for i in range(len(slot.kernels)) if i not in slot.failed and worst[i] is not None]
            if not ok:
                raise AutotuneError(f"contextual tuning of {self.__name__}: no candidate of {slot.name} ran and "
                                    f"passed: {sorted(slot.failed.items())[:3]}")
            slot.winner = min(ok, key=lambda i: worst[i])
            self.results[slot.name] = {
                "config": slot.configs[slot.winner], "latency_ms": worst[slot.winner],
                "trials": [{"config": c, "status": records.OK if i in ok else slot.failed.get(i, "failed"),
                            "latency_ms": worst[i]} for i, c in enumerate(slot.configs)]}


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def contextual_autotune(fn=None, *, n_warmup: int = 1, n_repeat: int = 5, autotune_pg=None,
                        autotune_sync_timeout: float | None = None, restore_args: bool = True):
    """Tune the ``@autotune`` kernels called inside ``fn`` together, in ``fn``'s real context (see the module
    doc). ``n_warmup``/``n_repeat``: untimed and timed launches per candidate; ``autotune_pg``: the process group
    whose ranks tune together (None: the default group when torch.distributed is initialized with several ranks;
    False: none); ``restore_args``: restore ``fn``'s tensor arguments before each run."""
    def wrap(f):
        return ContextualTuner(f, n_warmup, n_repeat, autotune_pg, autotune_sync_timeout, restore_args)
    return wrap(fn) if fn is not None else wrap
