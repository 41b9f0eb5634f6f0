"""The builder: compiles candidates in parallel worker processes, each compile under a hard time limit.

Lowering is Python inside TVM and cannot be interrupted from a thread, so each worker is a process
(``worker.py``) that imports TVM once and then builds many candidates; one that runs past ``timeout`` is killed
and replaced. The factory travels to the workers with cloudpickle. A built candidate comes back as the path of its
artifact folder (``kernel.so``, source, ``meta.json``) in the kernel cache, which the runner loads by path:
nothing built is pickled. Each outcome is a dict: ``status`` (``built`` or a failure status from ``records``),
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


class BuildHandler:
    """Runs in a builder worker: elaborate a config, check it fits, compile it."""

    def __init__(self, payload: dict):
        import torch  # noqa: F401 - imported once here, not inside the first timed build

        from ..runtime import compiler
        from ..runtime.jit import elaborate

        self.compile = compiler.compile
        self.elaborate = elaborate
        self.factory = payload["factory"]
        self.kwargs = payload["kwargs"]
        self.target = payload["target"]
        self.out_idx = payload["out_idx"]
        self.pass_configs = payload["pass_configs"] or {}
        self.compile_flags = payload["compile_flags"]
        self.limits = DeviceLimits(**payload["limits"])

    def handle(self, request: dict) -> dict:
        from ..errors import TileDSLError

        cfg = request["config"]
        kwargs = dict(self.kwargs)
        kwargs.update({k: v for k, v in cfg.items() if k != "pass_configs"})
        pass_configs = dict(self.pass_configs)
        pass_configs.update(cfg.get("pass_configs") or {})
        start = time.perf_counter()
        try:
            prim = self.elaborate(self.factory, (), kwargs)
        except TileDSLError as err:
            return {"status": records.BUILD_ERROR, "reason": f"{type(err).__name__}: {err}"}
        except Exception as err:
            return {"status": records.BUILD_ERROR, "reason": f"the factory raised {type(err).__name__}: {err}"}
        why = check_program(prim, self.limits)
        if why:
            return {"status": records.PRUNED, "reason": why}
        try:
            kernel = self.compile(prim, out_idx=self.out_idx, target=self.target, pass_configs=pass_configs,
                                  compile_flags=self.compile_flags)
        except Exception as err:
            reason = f"{type(err).__name__}: {err}"
            return {"status": classify_build_error(reason), "reason": reason}
        return {"status": "built", "artifact": str(kernel.artifact_dir), "seconds": time.perf_counter() - start,
                "kernel_info": dict(getattr(kernel, "kernel_info", {}) or {})}


class Builder:
    """A pool of builder workers fed from a queue; ``submit`` configs, outcomes go to ``on_done(config, outcome)``."""

    def __init__(self, payload: dict, n_workers: int, timeout: float, on_done, scratch: str | None = None):
        self.timeout = timeout
        self.on_done = on_done
        self._tasks: queue.Queue = queue.Queue()
        self.started = time.perf_counter()
        self.ready_seconds: list[float] = []  # when each worker had finished importing, from the start
        # one fork server imports TVM and torch once, then forks the workers (they start while the parent goes on)
        # ``scratch``: where builds go when the kernel disk cache is off (the caller removes it when done)
        env = {"TILEDSL_TMP_DIR": scratch} if scratch else None
        self._workers = Worker.start_group("builder", payload, n_workers, prefix="builder", env=env)
        self._threads = [threading.Thread(target=self._loop, args=(w,), daemon=True, name=f"tiledsl-{w.name}")
                         for w in self._workers]
        for t in self._threads:
            t.start()

    def submit(self, cfg: dict) -> None:
        self._tasks.put(cfg)

    def _loop(self, worker: Worker) -> None:
        while True:
            cfg = self._tasks.get()
            if cfg is None:
                return
            try:
                if not worker._ready:  # noqa: SLF001
                    worker.wait_ready()
                    self.ready_seconds.append(time.perf_counter() - self.started)
            except WorkerFailure as err:
                self.on_done(cfg, {"status": records.BUILD_ERROR, "reason": err.reason})
                continue
            try:
                outcome = worker.call({"config": cfg}, self.timeout)
            except WorkerFailure as err:
                status = records.BUILD_TIMEOUT if err.kind == "timeout" else records.CRASH
                outcome = {"status": status, "reason": f"compiling {err.reason}"}
            except Exception as err:  # e.g. the factory cannot be pickled: a result, not a lost thread
                worker.kill()
                outcome = {"status": records.BUILD_ERROR, "reason": f"{type(err).__name__}: {err}"}
            if outcome.get("status") == "error":  # the handler itself failed
                outcome = {"status": records.BUILD_ERROR, "reason": outcome.get("reason")}
            self.on_done(cfg, outcome)

    def close(self) -> None:
        """Let queued work finish, then stop the workers."""
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
        try:
            while True:
                self._tasks.get_nowait()
        except queue.Empty:
            pass
        for _ in self._threads:
            self._tasks.put(None)
        for w in self._workers:
            w.kill()
