"""The builder: compiles candidates in parallel worker processes, each compile under a hard time limit.

Lowering is Python inside TVM and cannot be interrupted from a thread, so each worker is a process
(``worker.py``) that imports TVM once and then builds many candidates; one that runs past ``timeout`` is killed
and replaced. Each config is elaborated in the tuning process (``prepare_request``: milliseconds) and its program
travels to a worker as TVMScript text (``program_text``), so a worker never re-reads the factory's source. A built
candidate comes back as the path of its artifact folder (``kernel.so``, source, ``meta.json``) in the kernel cache,
which the runner loads by path: nothing built is pickled. Each outcome is a dict: ``status`` (``built`` or a failure status from ``records``),
``artifact``, ``reason``, ``seconds``.
"""
from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time

from .. import config
from . import records
from .space import DeviceLimits, check_program
from .worker import Worker, WorkerFailure

logger = logging.getLogger(__name__)

_RESOURCE_PATTERNS = re.compile(
    r"shared memory|shared data|too many resources|registers|uses too much|exceeds? .*(threads|smem)|"
    r"max_threads|maximum number of threads|out of memory", re.IGNORECASE)


def classify_build_error(reason: str) -> str:
    """RESOURCE_ERROR when a build failed because the candidate does not fit the device, else BUILD_ERROR."""
    return records.RESOURCE_ERROR if _RESOURCE_PATTERNS.search(reason or "") else records.BUILD_ERROR


def worker_count(n_tasks: int, requested: int | None = None) -> int:
    """How many compile workers to run: ``requested``, else TILEDSL_AUTO_TUNING_CPU_COUNTS, else the available
    CPUs times TILEDSL_AUTO_TUNING_CPU_UTILITIES; capped by TILEDSL_AUTO_TUNING_MAX_CPU_COUNT and the task count."""
    if requested is not None and requested > 0:
        n = requested
    elif config.tuning_cpu_counts() > 0:
        n = config.tuning_cpu_counts()
    else:
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            cpus = os.cpu_count() or 1
        n = max(1, int(cpus * config.tuning_cpu_utilities()))
    if config.tuning_max_cpu_count() > 0:
        n = min(n, config.tuning_max_cpu_count())
    return max(1, min(n, max(1, n_tasks)))


def _elaborate_with_limit(get_tir, kwargs: dict, timeout: float | None):
    """``get_tir(**kwargs)`` in a daemon thread, waited for up to ``timeout`` seconds: ("ok", prim),
    ("error", exception) or ("timeout", None). A factory past its limit is left running in its thread (Python
    cannot stop it); the run goes on without that candidate."""
    box: dict = {}

    def call():
        try:
            box["prim"] = get_tir(**kwargs)
        except BaseException as err:  # noqa: BLE001 - the candidate's failure, reported as data
            box["error"] = err

    thread = threading.Thread(target=call, daemon=True, name="tiledsl-elaborate")
    thread.start()
    thread.join(timeout if timeout and timeout > 0 else None)
    if thread.is_alive():
        return "timeout", None
    if "error" in box:
        return "error", box["error"]
    return "ok", box["prim"]


def prepare_request(get_tir, kwargs: dict, cfg: dict, pass_configs: dict, limits: DeviceLimits,
                    timeout: float | None, factory=None) -> dict:
    """Elaborate one config in this process and say what to do with it: ``{"request": ...}`` for a builder
    worker (the program as text, see ``program_text``) or ``{"outcome": ...}`` when the candidate is already
    decided (the factory raised or ran past ``timeout``, or the program cannot fit the device). ``factory`` (the
    plain function) is sent instead of the text only for a program whose text does not parse back exactly."""
    from ..errors import TileDSLError
    from . import program_text

    call_kwargs = dict(kwargs)
    call_kwargs.update({k: v for k, v in cfg.items() if k != "pass_configs"})
    merged = dict(pass_configs or {})
    merged.update(cfg.get("pass_configs") or {})
    start = time.perf_counter()
    state, value = _elaborate_with_limit(get_tir, call_kwargs, timeout)
    if state == "timeout":
        return {"outcome": {"status": records.BUILD_TIMEOUT,
                            "reason": f"elaborating the factory ran past the {timeout:g} s limit (in the tuning "
                                      f"process; the call was abandoned)"}}
    if state == "error":
        err = value
        reason = (f"{type(err).__name__}: {err}" if isinstance(err, TileDSLError)
                  else f"the factory raised {type(err).__name__}: {err}")
        return {"outcome": {"status": records.BUILD_ERROR, "reason": reason}}
    why = check_program(value, limits)
    if why:
        return {"outcome": {"status": records.PRUNED, "reason": why}}
    request = {"config": cfg, "pass_configs": merged, "elaborate_seconds": time.perf_counter() - start}
    text = program_text.to_text(value)
    if text is not None:
        request["tir"] = text
    elif factory is not None:
        logger.debug("%s: the program does not round-trip as text; the builder calls the factory", cfg)
        request.update(factory=factory, kwargs=call_kwargs)
    else:
        return {"outcome": {"status": records.BUILD_ERROR,
                            "reason": "the elaborated program cannot be sent to a builder worker (its TVMScript "
                                      "does not parse back exactly); please report this program"}}
    return {"request": request}


class BuildHandler:
    """Runs in a builder worker: parse a program sent as text (or elaborate the factory), compile it."""

    def __init__(self, payload: dict):
        import torch  # noqa: F401 - imported once here, not inside the first timed build

        from ..runtime import compiler

        self.compile = compiler.compile
        self.target = payload["target"]
        self.out_idx = payload["out_idx"]
        self.compile_flags = payload["compile_flags"]
        self.limits = DeviceLimits(**payload["limits"])

    def handle(self, request: dict) -> dict:
        from . import program_text

        start = time.perf_counter()
        if "tir" in request:
            prim = program_text.from_text(request["tir"])
        else:  # a program whose text does not round-trip: elaborate here (needs the factory's source)
            from ..errors import TileDSLError
            from ..runtime.jit import elaborate

            try:
                prim = elaborate(request["factory"], (), request["kwargs"])
            except TileDSLError as err:
                return {"status": records.BUILD_ERROR, "reason": f"{type(err).__name__}: {err}"}
            except Exception as err:
                return {"status": records.BUILD_ERROR,
                        "reason": f"the factory raised {type(err).__name__}: {err}"}
            why = check_program(prim, self.limits)
            if why:
                return {"status": records.PRUNED, "reason": why}
        try:
            kernel = self.compile(prim, out_idx=self.out_idx, target=self.target,
                                  pass_configs=request.get("pass_configs") or {}, compile_flags=self.compile_flags)
        except Exception as err:
            reason = f"{type(err).__name__}: {err}"
            return {"status": classify_build_error(reason), "reason": reason}
        seconds = time.perf_counter() - start + request.get("elaborate_seconds", 0.0)
        return {"status": "built", "artifact": str(kernel.artifact_dir), "seconds": seconds,
                "kernel_info": dict(getattr(kernel, "kernel_info", {}) or {})}


class Builder:
    """A pool of builder workers fed from a queue; ``submit`` configs, outcomes go to ``on_done(config, outcome)``.

    ``prepare(config)`` runs in this process (one feeder thread, in submission order) and returns
    ``{"request": ...}`` for a worker or ``{"outcome": ...}`` when the candidate is already decided
    (see :func:`prepare_request`). A worker that cannot start, or dies while building, is replaced and the
    candidate tried once more: a worker that cannot start twice gives ``infra_error`` (the machine's failure, not
    the candidate's: never recorded in the trial log), a candidate that kills two workers is a ``crash``.
    """

    def __init__(self, payload: dict, n_workers: int, timeout: float, on_done, prepare, scratch: str | None = None):
        self.timeout = timeout
        self.on_done = on_done
        self.prepare = prepare
        self._incoming: queue.Queue = queue.Queue()
        self._tasks: queue.Queue = queue.Queue()
        self.started = time.perf_counter()
        self.ready_seconds: list[float] = []  # when each worker had finished importing, from the start
        # one fork server imports TVM and torch once, then forks the workers (they start while the parent goes on)
        # ``scratch``: where builds go when the kernel disk cache is off (the caller removes it when done)
        env = {"TILEDSL_TMP_DIR": scratch} if scratch else None
        self._workers = Worker.start_group("builder", payload, n_workers, prefix="builder", env=env)
        self._feeder = threading.Thread(target=self._feed, daemon=True, name="tiledsl-builder-feeder")
        self._feeder.start()
        self._threads = [threading.Thread(target=self._loop, args=(w,), daemon=True, name=f"tiledsl-{w.name}")
                         for w in self._workers]
        for t in self._threads:
            t.start()

    def submit(self, cfg: dict) -> None:
        self._incoming.put(cfg)

    def _feed(self) -> None:
        while True:
            cfg = self._incoming.get()
            if cfg is None:
                return
            try:
                prepared = self.prepare(cfg)
            except Exception as err:  # a bug of ours must not hang the run: the candidate fails with it
                prepared = {"outcome": {"status": records.BUILD_ERROR, "reason": f"{type(err).__name__}: {err}"}}
            if "outcome" in prepared:
                self.on_done(cfg, prepared["outcome"])
            else:
                self._tasks.put((cfg, prepared["request"]))

    def _ensure_started(self, worker: Worker) -> str | None:
        """Start ``worker`` (twice at most); None when it is ready, else why it could not start."""
        reason = None
        for _ in range(2):
            try:
                if not worker._ready:  # noqa: SLF001
                    worker.wait_ready()
                    self.ready_seconds.append(time.perf_counter() - self.started)
                return None
            except WorkerFailure as err:
                reason = err.reason
                worker.kill()
        return reason

    def _loop(self, worker: Worker) -> None:
        while True:
            item = self._tasks.get()
            if item is None:
                return
            cfg, request = item
            self.on_done(cfg, self._build(worker, request))

    def _build(self, worker: Worker, request: dict) -> dict:
        for attempt in range(2):
            why = self._ensure_started(worker)
            if why is not None:
                return {"status": records.INFRA_ERROR, "reason": f"a builder worker could not start: {why}"}
            try:
                outcome = worker.call(request, self.timeout)
            except WorkerFailure as err:
                if err.kind == "timeout":
                    return {"status": records.BUILD_TIMEOUT, "reason": f"compiling {err.reason}"}
                if attempt == 0:  # perhaps the worker, not the candidate: one more try on a fresh worker
                    logger.info("a builder worker died (%s); trying the candidate once more", err.reason)
                    continue
                return {"status": records.CRASH, "reason": f"compiling {err.reason} (twice, on fresh workers)"}
            except Exception as err:  # e.g. the request cannot be pickled: a result, not a lost thread
                worker.kill()
                return {"status": records.BUILD_ERROR, "reason": f"{type(err).__name__}: {err}"}
            if outcome.get("status") == "error":  # the handler itself failed
                return {"status": records.BUILD_ERROR, "reason": outcome.get("reason")}
            return outcome
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Let queued work finish, then stop the workers."""
        self._incoming.put(None)
        self._feeder.join()
        for _ in self._threads:
            self._tasks.put(None)
        for t in self._threads:
            t.join()
        for w in self._workers:
            w.send_exit()
        for w in self._workers:
            w.close()

    def kill(self) -> None:
        """Stop at once (queued configs are dropped)."""
        for q in (self._incoming, self._tasks):
            try:
                while True:
                    q.get_nowait()
            except queue.Empty:
                pass
        self._incoming.put(None)
        for _ in self._threads:
            self._tasks.put(None)
        for w in self._workers:
            w.kill()
