"""``AutoTuner``: the orchestration of a tuning run (TileLang's programmatic API).

    AutoTuner.from_kernel(factory, configs=...).set_compile_args(...).set_profile_args(...).run() -> AutotuneResult

A run: materialize and prune the config space (``space``), look the result up in memory and on disk, else take the
key's file lock (a second process tuning the same key waits, then gets the cache hit), reuse the trials already
recorded for this key (``records``: a killed run resumes), build the rest in parallel worker processes with a hard
timeout each (``builder``) while a benchmark worker checks and times each built candidate as soon as it arrives
(``runner``), re-time the best few side by side once compiling is over (so a noisy first measurement does not pick
the winner, and the machine is quiet), and store the result atomically (``result``).

``warmup`` and ``rep`` are iteration counts; ``timeout`` is seconds per candidate, for its compile and again for
its check and timing.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .. import config as env
from ..cache import DiskStore, content_key, environment_stamp
from ..runtime.compiler import lowering_stamp
from ..errors import AutotuneError, ConfigError, TargetError
from . import records, space
from .builder import Builder, prepare_request, worker_count
from .capture import get_autotune_inputs
from .checker import near_miss_hint
from .devices import expand_devices
from .distributed import resolve_group
from .transport import pack_inputs
from .identity import function_identity, tensor_digest, value_identity
from .records import Trial, TrialLog
from .result import AutotuneResult
from .runner import Runner
from .progress import Progress, announce, is_quiet
from .search import make_strategy

logger = logging.getLogger(__name__)

KEY_VERSION = 1
_scratch: list[str] = []


@dataclass(frozen=True)
class CompileArgs:
    """How candidates are compiled (None: the @jit decorator's setting)."""

    out_idx: object = None
    target: object = None
    pass_configs: dict | None = None
    compile_flags: object = None


@dataclass(frozen=True)
class ProfileArgs:
    """How candidates are checked and timed; ``warmup``/``rep`` are iterations, ``timeout`` seconds."""

    warmup: int = 25
    rep: int = 100
    timeout: float = 60
    supply_type: object = None  # TensorSupplyType; None means Auto
    ref_prog: object = None
    supply_prog: object = None
    rtol: float = 1e-2
    atol: float = 1e-2
    max_mismatched_ratio: float = 0.0
    skip_check: bool = False
    manual_check_prog: object = None
    cache_input_tensors: bool = False
    backend: str = "auto"
    top_k: int = 5
    retime_rounds: int = 5
    early_stop_factor: float = 2.0
    reset_to_zero: tuple = ()  # kernel parameter names zeroed before every launch (tiledsl.tune; issue 10)
    restore_value: tuple = ()  # kernel parameter names restored to their first value before every launch

    def key_json(self) -> dict:
        from ..profiler import TensorSupplyType, coerce_supply_type

        supply = coerce_supply_type(self.supply_type if self.supply_type is not None else TensorSupplyType.Auto)
        data = {"warmup": self.warmup, "rep": self.rep, "timeout": self.timeout, "supply_type": supply.name,
                "ref_prog": function_identity(self.ref_prog), "supply_prog": function_identity(self.supply_prog),
                "manual_check_prog": function_identity(self.manual_check_prog), "rtol": self.rtol,
                "atol": self.atol, "max_mismatched_ratio": self.max_mismatched_ratio, "skip_check": self.skip_check,
                "cache_input_tensors": self.cache_input_tensors, "backend": self.backend,
                "early_stop_factor": self.early_stop_factor}
        if self.reset_to_zero or self.restore_value:  # only then, so existing keys stay valid
            data.update(reset_to_zero=list(self.reset_to_zero), restore_value=list(self.restore_value))
        return data


def _validate_profile(p: ProfileArgs) -> None:
    for name in ("warmup", "rep"):
        v = getattr(p, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < (0 if name == "warmup" else 1):
            raise ConfigError(f"{name}={v!r} must be a{' non-negative' if name == 'warmup' else ' positive'} number "
                              f"of iterations")
    if not isinstance(p.timeout, (int, float)) or p.timeout <= 0:
        raise ConfigError(f"timeout={p.timeout!r} must be a positive number of seconds")
    for name in ("rtol", "atol", "max_mismatched_ratio"):
        v = getattr(p, name)
        if not isinstance(v, (int, float)) or v < 0:
            raise ConfigError(f"{name}={v!r} must be a non-negative number")
    f = p.early_stop_factor
    if isinstance(f, bool) or not isinstance(f, (int, float)) or not (f == 0 or f >= 1.0):
        raise ConfigError(f"early_stop_factor={f!r} must be at least 1.0 (or early_stop=False to time every "
                          f"candidate fully)")
    for name in ("ref_prog", "supply_prog", "manual_check_prog"):
        v = getattr(p, name)
        if v is not None and not callable(v):
            raise ConfigError(f"{name}={v!r} must be callable")
    for name in ("reset_to_zero", "restore_value"):
        param_names(name, getattr(p, name))


def resolve_early_stop(early_stop, factor) -> float:
    """The early-stop factor for TileLang's ``early_stop`` switch: 0 (off) for False, ``factor`` for True or when
    not given (tiledsl stops early by default; TileLang only when asked)."""
    if early_stop is None or early_stop is True:
        return factor
    if early_stop is False:
        return 0
    raise ConfigError(f"early_stop={early_stop!r} must be True or False")


def param_names(what: str, names) -> tuple:
    """``reset_to_zero`` / ``restore_value`` as a tuple of names (one name may be given as a string)."""
    if names is None:
        return ()
    if isinstance(names, str):
        return (names,)
    if not isinstance(names, (list, tuple)) or not all(isinstance(x, str) for x in names):
        raise ConfigError(f"{what}={names!r} must be a list of kernel parameter names, e.g. {what}=['C']")
    return tuple(names)


class AutoTuner:
    """Tune a kernel factory over a config space; see the module doc."""

    _memory: dict[str, AutotuneResult] = {}
    _memory_lock = threading.Lock()

    def __init__(self, fn, configs, prune_fn=None, strategy: str = "exhaustive"):
        self.fn = fn
        self.configs = configs
        self.prune_fn = prune_fn
        self.strategy = strategy
        self.compile_args = CompileArgs()
        self.profile_args = ProfileArgs()
        self._args: tuple = ()
        self._kwargs: dict = {}
        self.name = getattr(self._factory(), "__name__", "kernel")

    # ------------------------------------------------------------------ TileLang's builder-style API
    @classmethod
    def from_kernel(cls, kernel, configs, prune_fn=None) -> "AutoTuner":
        """A tuner for ``kernel``: a ``@tiledsl.jit`` factory or a plain function returning a ``@T.prim_func``."""
        if not callable(kernel):
            raise ConfigError(f"AutoTuner.from_kernel needs a kernel factory, got {type(kernel).__name__}")
        return cls(kernel, configs, prune_fn=prune_fn)

    def set_compile_args(self, out_idx=None, target=None, execution_backend=None, target_host=None, verbose=None,
                         pass_configs=None, compile_flags=None) -> "AutoTuner":
        """How to compile; ``execution_backend``, ``target_host`` and ``verbose`` are accepted and ignored."""
        self.compile_args = CompileArgs(out_idx=out_idx, target=target, pass_configs=pass_configs,
                                        compile_flags=compile_flags)
        return self

    def set_profile_args(self, warmup: int = 25, rep: int = 100, timeout: float = 60, supply_type=None,
                         ref_prog=None, supply_prog=None, rtol: float = 1e-2, atol: float = 1e-2,
                         max_mismatched_ratio: float = 0.0, skip_check: bool = False, manual_check_prog=None,
                         cache_input_tensors: bool = False, backend: str = "auto", top_k: int = 5,
                         retime_rounds: int = 5, early_stop_factor: float = 2.0, reset_to_zero=(),
                         restore_value=(), early_stop: bool | None = None) -> "AutoTuner":
        """How to check and time candidates. ``warmup``/``rep`` are iterations; ``timeout`` seconds per
        candidate; ``top_k`` finalists are re-timed ``retime_rounds`` times, interleaved, before the pick; a
        candidate whose 5-iteration estimate is over ``early_stop_factor`` times the best so far is not timed
        further (0 or ``early_stop=False`` turns that off). ``reset_to_zero`` / ``restore_value`` name kernel
        parameters zeroed / restored to their first value before every launch (kernels that accumulate into or
        update a tensor in place)."""
        self.profile_args = ProfileArgs(warmup, rep, timeout, supply_type, ref_prog, supply_prog, rtol, atol,
                                        max_mismatched_ratio, skip_check, manual_check_prog, cache_input_tensors,
                                        backend, top_k, retime_rounds,
                                        resolve_early_stop(early_stop, early_stop_factor),
                                        param_names("reset_to_zero", reset_to_zero),
                                        param_names("restore_value", restore_value))
        _validate_profile(self.profile_args)
        return self

    def set_kernel_parameters(self, args: tuple = (), kwargs: dict | None = None) -> "AutoTuner":
        """The factory's arguments that are not tuned (``matmul(M, N, K)``'s M, N, K)."""
        self._args, self._kwargs = tuple(args), dict(kwargs or {})
        return self

    # ------------------------------------------------------------------ helpers
    def _factory(self):
        return getattr(self.fn, "func", self.fn)

    def _compile_settings(self):
        from ..runtime.target import resolve_target

        jit = self.fn if hasattr(self.fn, "get_tir") and hasattr(self.fn, "out_idx") else None
        c = self.compile_args
        out_idx = c.out_idx if c.out_idx is not None else (jit.out_idx if jit else None)
        target = c.target if c.target is not None else (jit.target if jit else "auto")
        pass_configs = c.pass_configs if c.pass_configs is not None else (jit.pass_configs if jit else {})
        flags = c.compile_flags if c.compile_flags is not None else (jit.compile_flags if jit else None)
        return out_idx, resolve_target(target), dict(pass_configs or {}), flags

    def _bound_arguments(self, factory) -> dict:
        import inspect

        try:
            bound = inspect.signature(factory).bind_partial(*self._args, **self._kwargs)
        except TypeError as err:
            raise ConfigError(f"arguments {self._args!r} {self._kwargs!r} do not fit "
                              f"{space.describe_signature(factory)}: {err}") from None
        return dict(bound.arguments)

    @staticmethod
    def _root() -> Path:
        return env.cache_dir() / "autotune"

    # ------------------------------------------------------------------ run
    def run(self, warmup: int | None = None, rep: int | None = None, timeout: float | None = None,
            num_workers: int | None = None, benchmark_devices=None, quiet: bool | None = None, autotune_pg=None,
            autotune_split: bool = True, autotune_sync_timeout: float | None = None, early_stop: bool | None = None,
            early_stop_factor: float | None = None, **ignored) -> AutotuneResult:
        """Tune (or fetch the cached result) and return the AutotuneResult. ``warmup``/``rep``/``timeout`` given
        here override ``set_profile_args``; ``num_workers`` is the number of compile processes;
        ``benchmark_devices`` (GPU indices or device strings) spreads first measurements over several devices of
        one kind, each with its own benchmark worker pulling from one queue; the finalists are always re-timed on
        the first, so the pick compares timings from one device. Progress and the winner go to stderr unless
        ``quiet`` (default: ``TILEDSL_AUTO_TUNING_QUIET``). ``autotune_pg``: tune together with the other
        ranks of this torch.distributed process group (None: the default group when torch.distributed is
        initialized with several ranks; False: this process alone); ``autotune_split``: each rank measures a share
        of the candidates; ``autotune_sync_timeout``: seconds a rank waits for the others (docs/distributed.md).
        ``early_stop`` / ``early_stop_factor`` (TileLang's) override ``set_profile_args``'s early stopping.
        Other keyword arguments (TileLang's ``enable_grouped_compile``, ...) are ignored with a WARNING naming them."""
        import torch

        if ignored:
            logger.warning("AutoTuner.run for %s ignores %s: not options of tiledsl's tuner", self.name,
                           ", ".join(f"{k}={v!r}" for k, v in ignored.items()))

        from ..runtime.target import target_kind

        from ..tune import report  # the table printed under TILEDSL_PRINT_AUTOTUNING (tiledsl.tune imports this)

        start = time.perf_counter()
        prof = self.profile_args
        prof = replace(prof, **{k: v for k, v in (("warmup", warmup), ("rep", rep), ("timeout", timeout))
                                if v is not None})
        if early_stop is not None or early_stop_factor is not None:
            factor = early_stop_factor if early_stop_factor is not None else (
                prof.early_stop_factor or ProfileArgs.early_stop_factor)
            prof = replace(prof, early_stop_factor=resolve_early_stop(early_stop, factor))
        _validate_profile(prof)
        factory = self._factory()
        configs = space.materialize(self.configs, factory, self._args, self._kwargs)
        bound = self._bound_arguments(factory)
        out_idx, tgt, pass_configs, flags = self._compile_settings()
        kind = target_kind(tgt)
        if kind == "cuda":
            if not torch.cuda.is_available():
                raise TargetError(f"tuning {self.name} for CUDA needs a visible GPU (none here); tune with "
                                  f"target='llvm' on the CPU, or run on a GPU machine")
            device = f"cuda:{torch.cuda.current_device()}"
        else:
            device = "cpu"
        devices = _normalize_devices(benchmark_devices, device, kind)
        inputs = get_autotune_inputs()
        if inputs is not None and prof.supply_prog is not None:
            logger.warning("set_autotune_inputs is active: the supply_prog of %s is not used", self.name)
        compile_json = {"target": str(tgt), "out_idx": out_idx, "pass_configs": pass_configs, "compile_flags": flags}
        family_payload = {"v": KEY_VERSION, "factory": function_identity(factory), "args": value_identity(bound),
                          "compile": compile_json, "profile": prof.key_json(),
                          "inputs": tensor_digest(inputs) if inputs is not None else None,
                          "env": environment_stamp(kind, with_device=True), "lowering": lowering_stamp(tgt)}
        family = content_key(family_payload)
        key = content_key({"family": family, "space": [space.config_id(c) for c in configs],
                           "prune_fn": function_identity(self.prune_fn)})
        use_disk = not env.tuning_cache_disabled()
        force = env.force_retune()
        group = resolve_group(autotune_pg)
        if group is not None:  # tuning together with the other ranks: dist_run.py
            from .dist_run import DistributedRun

            result = DistributedRun(self, factory, configs, bound, out_idx, tgt, pass_configs, flags, prof, devices,
                                    inputs, family, key, use_disk, force, family_payload, num_workers, quiet,
                                    group=group, split=autotune_split, sync_timeout=autotune_sync_timeout).execute()
            report.print_result_table(self.name, result, time.perf_counter() - start)
            return result
        if not force:
            hit = self._cached(key, use_disk)
            if hit is not None:
                return hit
        ctx = self._lock(family) if use_disk else contextlib.nullcontext()
        with ctx:
            if use_disk and not force:
                hit = self._cached(key, use_disk)
                if hit is not None:
                    return hit
            run = _Run(self, factory, configs, bound, out_idx, tgt, pass_configs, flags, prof, devices, inputs,
                       family, key, use_disk, force, family_payload, num_workers, quiet)
            result = run.execute()
        report.print_result_table(self.name, result, time.perf_counter() - start)
        with AutoTuner._memory_lock:
            AutoTuner._memory[key] = result
        return result

    def _cached(self, key: str, use_disk: bool) -> AutotuneResult | None:
        with AutoTuner._memory_lock:
            hit = AutoTuner._memory.get(key)
        if hit is not None:
            logger.debug("tuning result of %s found in memory", self.name)
            return hit
        if not use_disk:
            return None
        store = DiskStore("autotune/results")
        folder = store.get(key)
        if folder is None:
            return None
        try:
            result = AutotuneResult.load_from_disk(folder)
        except Exception as err:  # a corrupt entry is a miss
            logger.warning("dropping unreadable tuning cache entry %s: %s", folder, err)
            store.remove(key)
            return None
        result.from_cache = True
        logger.info("tuning result of %s loaded from %s: %s (%.4g ms)", self.name, folder, result.config,
                    result.latency)
        with AutoTuner._memory_lock:
            AutoTuner._memory[key] = result
        return result

    @contextlib.contextmanager
    def _lock(self, family: str):
        folder = self._root() / "trials" / family[:2] / family
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "a+") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.info("another process is tuning %s with the same key; waiting for it", self.name)
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


class _Run:
    """One tuning run's state (the parts are in builder, runner, records and result)."""

    def __init__(self, tuner, factory, configs, bound, out_idx, tgt, pass_configs, flags, prof, devices, inputs,
                 family, key, use_disk, force, family_payload, num_workers=None, quiet=None):
        self.t, self.factory, self.configs, self.bound = tuner, factory, configs, bound
        self.out_idx, self.tgt, self.pass_configs, self.flags = out_idx, tgt, pass_configs, flags
        self.prof, self.devices, self.device, self.inputs = prof, devices, devices[0], inputs
        self.num_workers = num_workers
        self.quiet = quiet
        self.progress: Progress | None = None
        self.family, self.key, self.use_disk, self.force = family, key, use_disk, force
        self.family_payload = family_payload
        self.limits = space.DeviceLimits.for_target(tgt)
        self.log = TrialLog(tuner._root() / "trials" / family[:2] / family / "trials.jsonl") if use_disk else None
        self.trials: dict[str, Trial] = {}
        self.phases: dict = {}  # seconds from the start of the run to each milestone
        self.scratch: str | None = None
        self.start = time.perf_counter()

    # ------------------------------------------------------------------ the run
    def execute(self) -> AutotuneResult:
        self.start = start = time.perf_counter()
        pending = self._plan()
        n_resumed = sum(1 for t in self.trials.values() if t.resumed)
        if n_resumed:
            logger.info("%s: resuming, %d of %d configs already have recorded trials", self.t.name, n_resumed,
                        len(self.configs))
        runner, runners = None, []
        try:
            needs_runner = bool(pending) or any(t.ok for t in self.trials.values())
            if needs_runner:
                runners = [Runner(self._runner_payload(d), self.prof.timeout) for d in
                           (self.devices if pending else self.devices[:1])]
                runner = runners[0]
            if pending:
                self._build_and_bench(pending, runners)
            ok = sorted((t for t in self.trials.values() if t.ok), key=lambda t: t.latency)
            if any(t.resumed for t in ok):
                ok = self._recheck_resumed(ok, runner)
            if not ok:
                raise AutotuneError(self._failure_message())
            winner = self._pick(ok, runner)
            self.phases["retimed_s"] = time.perf_counter() - start
            ref_latency = runner.ref_latency(winner.artifact) if self.prof.ref_prog is not None else None
            result = self._store(winner, ref_latency)
            self.phases["stored_s"] = time.perf_counter() - start
            result.phases = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.phases.items()}
        finally:
            for r in runners:
                r.close()
            if self.scratch is not None:
                shutil.rmtree(self.scratch, ignore_errors=True)
        self._log_summary(result, time.perf_counter() - start)
        return result

    def _scratch(self) -> str | None:
        """With the kernel disk cache off, builds go to a folder of this run's, removed at its end."""
        if not env.disk_cache_disabled():
            return None
        root = env.tmp_dir()
        root.mkdir(parents=True, exist_ok=True)
        self.scratch = tempfile.mkdtemp(prefix="tune-", dir=root)
        return self.scratch

    def _plan(self) -> list[dict]:
        """Prune by limits and prune_fn, reuse recorded trials; the configs still to build."""
        if self.log is not None and self.force:
            self.log.reset()
        recorded = self.log.load() if self.log is not None else {}
        pending = []
        args, kwargs = self.t._args, self.t._kwargs
        for cfg in self.configs:
            cid = space.config_id(cfg)
            why = space.check_limits(cfg, self.limits) or space.user_prune(self.t.prune_fn, cfg, args, kwargs)
            if why:
                self.trials[cid] = Trial(cfg, records.PRUNED, reason=why)
                continue
            old = recorded.get(cid)
            problem = _recorded_kernel_problem(old.artifact) if old is not None and old.ok else None
            if problem is not None:
                logger.warning("%s %s: the recorded trial's kernel cannot be trusted (%s); building it again",
                               self.t.name, cfg, problem)
                old = None
            if old is not None:
                old.resumed = True
                self.trials[cid] = old
                continue
            pending.append(cfg)
        return pending

    def _recheck_resumed(self, ok: list[Trial], runner: Runner) -> list[Trial]:
        """Check and time again every resumed successful trial (its kernel file may have changed since it was
        recorded); one that fails now is recorded with its new failure and cannot win."""
        kept = []
        for t in ok:
            if not t.resumed:
                kept.append(t)
                continue
            r = runner.bench(t.artifact, None)
            if r["status"] == records.OK:
                t.latency, t.retimed_latency, t.early_stopped = r["latency"], None, bool(r.get("early_stopped"))
                kept.append(t)
                continue
            failed = Trial(t.config, r["status"], reason=f"re-checking the recorded kernel {t.artifact}: "
                                                         f"{r.get('reason')}", artifact=t.artifact,
                           device=runner.device)
            failed.resumed = True
            logger.warning("%s %s: the recorded kernel failed its re-check (%s: %s)", self.t.name, t.config,
                           failed.status, r.get("reason"))
            self._record(failed)
        return sorted(kept, key=lambda t: t.latency)

    def _builder_payload(self) -> dict:
        return {"target": str(self.tgt), "out_idx": self.out_idx, "compile_flags": self.flags,
                "limits": self.limits.to_json()}

    def _get_tir(self):
        """``get_tir(**kwargs)`` of the tuned factory: the @jit's own, or the plain function's elaboration."""
        fn = self.t.fn
        if hasattr(fn, "get_tir"):
            return fn.get_tir
        from ..runtime.jit import elaborate

        return lambda **kwargs: elaborate(fn, (), kwargs)

    def _prepare(self, cfg: dict) -> dict:
        return prepare_request(self._get_tir(), self.bound, cfg, self.pass_configs, self.limits, self.prof.timeout,
                               factory=self.factory)

    def _runner_payload(self, device: str) -> dict:
        from ..profiler import TensorSupplyType, coerce_supply_type

        p = self.prof
        backend = p.backend
        if backend == "auto":
            backend = "event" if device.startswith("cuda") else "wall"
        inputs = pack_inputs(self.inputs) if self.inputs is not None else None
        return {"device": device, "supply_type": coerce_supply_type(p.supply_type or TensorSupplyType.Auto),
                "supply_prog": p.supply_prog if self.inputs is None else None, "inputs": inputs,
                "ref_prog": p.ref_prog, "manual_check_prog": p.manual_check_prog, "skip_check": p.skip_check,
                "rtol": p.rtol, "atol": p.atol, "max_mismatched_ratio": p.max_mismatched_ratio,
                "cache_input_tensors": p.cache_input_tensors, "warmup": p.warmup, "rep": p.rep,
                "backend": backend, "reset_to_zero": list(p.reset_to_zero), "restore_value": list(p.restore_value)}

    def _record(self, trial: Trial) -> None:
        self.trials[space.config_id(trial.config)] = trial
        if self.log is not None and trial.status != records.INFRA_ERROR:  # the machine's failure: retried next run
            self.log.append(trial)
        if trial.ok:
            logger.debug("%s %s: %.4g ms", self.t.name, trial.config, trial.latency)
        else:
            logger.debug("%s %s: %s: %s", self.t.name, trial.config, trial.status, trial.reason)

    def _build_and_bench(self, pending: list[dict], runners: list[Runner]) -> None:
        done: queue.Queue = queue.Queue()
        to_bench: queue.Queue = queue.Queue()
        compile_seconds: dict[str, float] = {}
        kernel_infos: dict[str, dict] = {}  # what each built kernel really is (path, parameters, source hash)

        n_built = [0]
        built_lock = threading.Lock()

        def on_built(cfg, outcome):
            with built_lock:
                n_built[0] += 1
                last = n_built[0] == len(pending)
            if last:
                self.phases["all_built_s"] = time.perf_counter() - self.start
            if outcome.get("status") == "built":
                compile_seconds[space.config_id(cfg)] = outcome.get("seconds")
                kernel_infos[space.config_id(cfg)] = outcome.get("kernel_info")
                to_bench.put((cfg, outcome["artifact"]))
            else:
                done.put(Trial(cfg, outcome.get("status", records.BUILD_ERROR), reason=outcome.get("reason")))

        best_box = [min((t.latency for t in self.trials.values() if t.ok and not t.early_stopped), default=None)]
        factor = self.prof.early_stop_factor

        def bench_loop(runner: Runner):
            while True:
                item = to_bench.get()
                if item is None:
                    return
                cfg, artifact = item
                cutoff = best_box[0] * factor if factor and best_box[0] is not None else None
                try:
                    r = runner.bench(artifact, cutoff)
                except BaseException as err:  # a user mistake in supply/ref: stop the run
                    done.put(err)
                    return
                if r["status"] == records.OK and not r.get("early_stopped") and (
                        best_box[0] is None or r["latency"] < best_box[0]):
                    best_box[0] = r["latency"]
                done.put(Trial(cfg, r["status"], latency=r.get("latency"), reason=r.get("reason"),
                               compile_seconds=compile_seconds.get(space.config_id(cfg)), artifact=artifact,
                               early_stopped=bool(r.get("early_stopped")), device=runner.device,
                               kernel=kernel_infos.get(space.config_id(cfg))))

        n_workers = worker_count(len(pending), self.num_workers)
        builder = Builder(self._builder_payload(), n_workers, self.prof.timeout, on_built, self._prepare,
                          scratch=self._scratch())
        benchers = [threading.Thread(target=bench_loop, args=(r,), daemon=True, name=f"tiledsl-bench-{r.device}")
                    for r in runners]
        for b in benchers:
            b.start()
        strategy = make_strategy(self.t.strategy, pending)
        for cfg in strategy.propose(len(pending)):
            builder.submit(cfg)
        bar = self.progress = Progress(self.t.name, len(self.configs), len(self.configs) - len(pending),
                                       is_quiet(self.quiet))
        finished = False
        try:
            for _ in range(len(pending)):
                item = done.get()
                if isinstance(item, BaseException):
                    raise item
                self._record(item)
                strategy.observe(item.config, item)
                bar.update(item.latency if item.ok else None)
            finished = True
            self.phases["all_benchmarked_s"] = time.perf_counter() - self.start
        finally:
            bar.close()
            for _ in benchers:
                to_bench.put(None)
            if builder.ready_seconds:
                offset = builder.started - self.start
                self.phases["builders_ready_s"] = [round(offset + min(builder.ready_seconds), 2),
                                                   round(offset + max(builder.ready_seconds), 2)]
            if finished:
                builder.close()
            else:
                builder.kill()
                for r in runners:
                    r.worker.kill()
            for b in benchers:
                b.join(timeout=30)

    def _pick(self, ok: list[Trial], runner: Runner) -> Trial:
        finalists = [t for t in ok if not t.early_stopped][: max(1, self.prof.top_k)] or ok[:1]
        if len(finalists) > 1 and self.prof.retime_rounds > 0:
            latencies = runner.retime([t.artifact for t in finalists], self.prof.retime_rounds)
            if latencies is not None:
                for t, lat in zip(finalists, latencies):
                    t.retimed_latency = lat
        return min(finalists, key=lambda t: t.best_latency)

    def _store(self, winner: Trial, ref_latency) -> AutotuneResult:
        from ..runtime.kernel import JITKernel

        trials = [self.trials[space.config_id(c)] for c in self.configs]
        kernel = JITKernel.load(winner.artifact)
        result = AutotuneResult(config=dict(winner.config), latency=winner.best_latency, ref_latency=ref_latency,
                                kernel=kernel, trials=trials, key=self.key)
        if self.use_disk:
            def write(folder: Path):
                result.write(folder)
                (folder / "key.json").write_text(__import__("json").dumps(
                    {"key": self.key, "family": self.family, "payload": self.family_payload}, indent=1,
                    default=repr))
            store = DiskStore("autotune/results")
            if self.force:
                store.remove(self.key)
            folder = store.put(self.key, write)
            result.kernel = JITKernel.load(folder / "kernel")
        else:  # keep the winner's files for this process only
            root = env.tmp_dir()
            root.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix="tuned-", dir=root))
            _scratch.append(str(folder))
            kernel.save(folder)
            result.kernel = JITKernel.load(folder)
        result.kernel.latency, result.kernel.config, result.kernel.ref_latency = (result.latency, result.config,
                                                                                  ref_latency)
        return result

    # ------------------------------------------------------------------ reporting
    def _failure_message(self) -> str:
        failed = [t for t in (self.trials[space.config_id(c)] for c in self.configs) if not t.ok]
        counts = {}
        for t in failed:
            counts[t.status] = counts.get(t.status, 0) + 1
        lines = [f"tuning {self.t.name} failed: none of the {len(self.configs)} configs compiled, ran and passed "
                 f"the check ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}). First reasons:"]
        for t in failed[:5]:
            lines.append(f"  {t.config}: {t.status}: {t.reason}" + ("  (recorded by an earlier run)" if t.resumed
                                                                    else ""))
        hint = near_miss_hint(t.reason for t in failed)  # None unless every failure is a small comparison miss
        lines += _resumed_note(self.trials.values()) + ([f"  {hint}"] if hint else [])
        return "\n".join(lines)

    def _log_summary(self, result: AutotuneResult, seconds: float) -> None:
        rows = sorted(result.trials, key=lambda t: (not t.ok, t.best_latency or 0.0))
        lines = [f"tuned {self.t.name} in {seconds:.1f} s: best {result.config} at {result.latency:.4g} ms"
                 + (f" (reference {result.ref_latency:.4g} ms)" if result.ref_latency else "")
                 + (f"; milestones (s): {result.phases}" if result.phases else "")]
        lines.append(f"  {'status':<15} {'latency ms':>10} {'retimed':>10}  config / reason")
        for t in rows:
            lat = f"{t.latency:.4g}" if t.latency is not None else "-"
            ret = f"{t.retimed_latency:.4g}" if t.retimed_latency is not None else "-"
            tail = f"{t.config}" + (f"  {_first_line(t.reason)[:200]}" if t.reason else "")
            tail += "  (resumed)" if t.resumed else ""
            if t.early_stopped:
                tail += "  (estimate: over the early-stop cutoff)"
            lines.append(f"  {t.status:<15} {lat:>10} {ret:>10}  {tail}")
        logger.info("\n".join(lines))
        counts = ", ".join(f"{k} {v}" for k, v in sorted(result.summary().items()))
        winner = (f"tuned {self.t.name} in {seconds:.1f} s: best {result.config} at {result.latency:.4g} ms "
                  f"({len(result.trials)} configs: {counts})")
        announce(winner, is_quiet(self.quiet))
        failed = result.failures()
        if failed:
            note = " ".join(_resumed_note(failed))
            logger.warning("%s: %d of %d configs failed (%s); see AutotuneResult.trials or the log at INFO%s",
                           self.t.name, len(failed), len(result.trials),
                           ", ".join(f"{k} {v}" for k, v in sorted(result.summary().items()) if k != records.OK),
                           f". {note.strip()}" if note else "")


def _normalize_devices(devices, current: str, kind: str) -> list[str]:
    """Device strings for the benchmark workers (the current device when none are given)."""
    devices = expand_devices(devices, kind)  # "all", a CPU runner count (devices.py)
    if devices is None:
        return [current]
    out = []
    for d in devices if isinstance(devices, (list, tuple)) else [devices]:
        name = f"cuda:{d}" if isinstance(d, int) and not isinstance(d, bool) else str(d)
        if name == "cuda":
            name = current
        if (kind == "cuda") != name.startswith("cuda:") or (kind != "cuda" and name != "cpu"):
            raise ConfigError(f"benchmark_devices: {d!r} does not fit a {kind} target (use GPU indices such as "
                              f"[0, 1] for CUDA, 'cpu' for the CPU)")
        out.append(name)
    if not out:
        raise ConfigError("benchmark_devices is empty")
    return out


def _resumed_note(trials) -> list[str]:
    """A line saying how many outcomes came from an earlier run's records, and how to tune from scratch."""
    n = sum(1 for t in trials if t.resumed and not t.ok)
    if not n:
        return []
    return [f"  {n} of these outcomes were recorded by an earlier run and resumed, not tried again; set "
            f"TILEDSL_AUTO_TUNING_FORCE_RETUNE=1 to tune every config from scratch"]


def _recorded_kernel_problem(artifact: str | None) -> str | None:
    """Why a trial record's kernel folder must not be used, or None: a record may only point at an intact built
    kernel inside the kernel disk cache (another folder would load a library nobody built for this tuning)."""
    from ..runtime.compiler import kernel_store
    from ..runtime.loader import artifact_problem

    if not artifact:
        return "the record names no kernel"
    try:
        return artifact_problem(artifact, inside=kernel_store().root)
    except (OSError, RuntimeError) as err:
        return f"{artifact}: {err}"


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0] if lines else ""


def _remove_scratch():
    for d in _scratch:
        shutil.rmtree(d, ignore_errors=True)


import atexit  # noqa: E402

atexit.register(_remove_scratch)
