"""Function-level tuning: ``tiledsl.tune.autotune(config_space=, key_fn=, prune_fn=)`` on any Python function that
takes ``config=`` (for example one that launches several kernels, or picks a split between two of them).

Per distinct ``key_fn(*args, **kwargs)`` (default: the shapes, dtypes and devices of tensor arguments and the values
of the others) every config of ``config_space`` not dropped by ``prune_fn(config, *args, **kwargs)`` is run and
timed with tiledsl's ``do_bench`` (``warmup``/``rep`` iterations, median); a config whose run raises is recorded
with its error and skipped. The fastest wins and is cached in the process and in a JSON file
(``<cache>/autotune/functions/<name>/<key>.json``) holding every timing and failure, the hardware it was measured
on (part of the key) and the software versions (tiledsl, TVM, torch, nvcc: a file from other versions is reused
with a WARNING, or re-tuned with ``TILEDSL_AUTO_TUNING_FORCE_RETUNE=1``).

Per call: ``autotune=False`` uses ``default_config`` (else the first config) without tuning; ``autotune=True``
tunes even when ``tiledsl.disable_autotune()`` is in force; ``autotune_verbose=True`` prints the table to stderr.
Passing ``config=`` calls the function with that config. Candidates run in this process: an exception is isolated,
a crash of the process is not (kernels built by tiledsl and tuned with ``@tiledsl.autotune`` are isolated).
"""
from __future__ import annotations

import functools
import json
import logging
import os
import tempfile
import threading
import time

from .. import config as env
from ..cache.key import canonical_json, content_key
from ..errors import AutotuneError, ConfigError
from . import report, switch

logger = logging.getLogger(__name__)

OK, PRUNED, RUN_ERROR = "ok", "pruned", "run_error"


def autotune(config_space, key_fn=None, prune_fn=None, warmup: int = 5, rep: int = 20, default_config=None):
    """Decorate a function taking ``config=``: each new key tunes it over ``config_space`` (a list of dicts,
    or of any JSON-able values); see the module doc."""
    if isinstance(config_space, dict) or not isinstance(config_space, (list, tuple)) or not config_space:
        raise ConfigError("tiledsl.tune.autotune needs config_space=[...], a non-empty list of configs")
    for name, fn in (("key_fn", key_fn), ("prune_fn", prune_fn)):
        if fn is not None and not callable(fn):
            raise ConfigError(f"tiledsl.tune.autotune: {name} must be callable, got {type(fn).__name__}")
    for name, v, low in (("warmup", warmup, 0), ("rep", rep, 1)):
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise ConfigError(f"tiledsl.tune.autotune: {name}={v!r} must be an integer >= {low} (iterations)")

    def wrap(fn):
        return FunctionTuner(fn, list(config_space), key_fn, prune_fn, warmup, rep, default_config)
    return wrap


class FunctionTuner:
    """A function tuned over ``config=`` values (what ``tiledsl.tune.autotune(...)`` returns)."""

    def __init__(self, fn, config_space, key_fn, prune_fn, warmup, rep, default_config):
        import inspect

        if "config" not in inspect.signature(fn).parameters:
            raise ConfigError(f"tiledsl.tune.autotune: {fn.__name__}{inspect.signature(fn)} must take a config= "
                              f"argument (it receives one entry of config_space)")
        functools.update_wrapper(self, fn)
        self.fn, self.config_space, self.key_fn, self.prune_fn = fn, config_space, key_fn, prune_fn
        self.warmup, self.rep, self.default_config = warmup, rep, default_config
        self.stats: dict = {"tuned": 0, "cache": 0, "default": 0}
        self._memory: dict = {}
        self._lock = threading.Lock()

    def __call__(self, *args, config=None, autotune=None, autotune_verbose: bool = False, **kwargs):
        if config is not None:
            return self.fn(*args, config=config, **kwargs)
        if autotune is False:
            return self.fn(*args, config=self.best_config(args, kwargs, autotune=False), **kwargs)
        key = self._key(args, kwargs)
        best = self._memory.get(key)
        if best is None:
            best = self.best_config(args, kwargs, autotune=autotune, verbose=autotune_verbose, key=key)
        return self.fn(*args, config=best, **kwargs)

    def best_config(self, args: tuple, kwargs: dict, autotune=None, verbose: bool = False, key=None):
        """The config for these arguments: cached, tuned (when allowed), or the default."""
        if autotune is False:
            self.stats["default"] += 1
            return self.default_config if self.default_config is not None else self.config_space[0]
        key = self._key(args, kwargs) if key is None else key
        allowed = switch.is_autotune_enabled() if autotune is None else bool(autotune)
        path = self._path(key)
        cached = self._load(path)
        if cached is not None:
            self.stats["cache"] += 1
            with self._lock:
                self._memory[key] = cached
            return cached
        if not allowed:
            self.stats["default"] += 1
            return self.default_config if self.default_config is not None else self.config_space[0]
        best = self._tune(args, kwargs, key, path, verbose)
        with self._lock:
            self._memory[key] = best
        return best

    # ------------------------------------------------------------------ tuning
    def _tune(self, args, kwargs, key, path, verbose):
        from ..profiler import do_bench

        device = _first_device(args, kwargs)
        start = time.perf_counter()
        rows = []
        for i, cfg in enumerate(self.config_space):
            if self.prune_fn is not None and self.prune_fn(cfg, *args, **kwargs):
                rows.append((i, cfg, PRUNED, None, "prune_fn"))
                continue
            try:
                ms = do_bench(functools.partial(self.fn, *args, config=cfg, **kwargs), self.warmup, self.rep,
                              device=device)
            except Exception as err:  # a failing candidate is recorded and skipped
                rows.append((i, cfg, RUN_ERROR, None, f"{type(err).__name__}: {err}"))
                logger.debug("%s %s failed: %s", self.__name__, cfg, err)
                continue
            rows.append((i, cfg, OK, float(ms), None))
        ok = [r for r in rows if r[2] == OK]
        if not ok:
            reasons = "; ".join(f"{r[1]}: {r[4]}" for r in rows[:5])
            raise AutotuneError(f"tuning {self.__name__}: none of the {len(rows)} configs ran ({reasons})")
        best = min(ok, key=lambda r: r[3])
        seconds = time.perf_counter() - start
        table = report.format_table(self.__name__, [(r[1], r[2], r[3], r[4]) for r in rows], best[1], best[3],
                                    seconds, context=f"key {key}")
        logger.info("%s", table)
        report.maybe_print(table, verbose)
        self.stats["tuned"] += 1
        self._store(path, key, rows, best)
        return best[1]

    # ------------------------------------------------------------------ the JSON cache
    def _key(self, args, kwargs):
        from ..autotuner.identity import value_identity

        if self.key_fn is not None:
            try:
                raw = self.key_fn(*args, **kwargs)
            except Exception as err:
                raise ConfigError(f"key_fn of {self.__name__} failed: {type(err).__name__}: {err}") from None
        else:
            raw = {"args": list(args), "kwargs": kwargs}
        return canonical_json(value_identity(raw))

    def _path(self, key):
        from ..autotuner.identity import function_identity, value_identity

        digest = content_key({"v": 1, "function": function_identity(self.fn), "key": key,
                              "space": value_identity(self.config_space),
                              "prune_fn": function_identity(self.prune_fn), "warmup": self.warmup, "rep": self.rep,
                              "hardware": hardware()})
        return env.cache_dir() / "autotune" / "functions" / _safe(self.__qualname__) / f"{digest}.json"

    def _load(self, path):
        if env.tuning_cache_disabled() or env.force_retune() or not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
            index, stored = data["config_index"], data["config"]
        except (OSError, ValueError, KeyError) as err:
            logger.warning("ignoring unreadable tuning cache file %s: %s", path, err)
            return None
        if not (0 <= index < len(self.config_space)) or canonical_json(self.config_space[index]) != canonical_json(
                stored):
            return None
        now = versions()
        if data.get("versions") != now:
            logger.warning("%s: reusing the tuned config in %s although it was tuned with %s (now %s); set "
                           "TILEDSL_AUTO_TUNING_FORCE_RETUNE=1 to tune again", self.__name__, path,
                           data.get("versions"), now)
        return self.config_space[index]

    def _store(self, path, key, rows, best):
        if env.tuning_cache_disabled():
            return
        data = {"function": f"{self.fn.__module__}:{self.fn.__qualname__}", "key": key, "config": best[1],
                "config_index": best[0], "latency_ms": best[3], "hardware": hardware(), "versions": versions(),
                "timings": [[r[3], r[1]] for r in sorted((r for r in rows if r[2] == OK), key=lambda r: r[3])],
                "failures": [[r[1], r[2], r[4]] for r in rows if r[2] != OK], "time": time.time()}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, default=repr)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def hardware() -> dict:
    """The hardware a timing belongs to: GPU name, count and capability, or the CPU."""
    import platform

    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        return {"gpu": props.name, "count": torch.cuda.device_count(),
                "capability": list(torch.cuda.get_device_capability())}
    return {"cpu": platform.processor() or platform.machine(), "count": os.cpu_count()}


def versions() -> dict:
    """The software a timing depends on: tiledsl, TVM, torch and nvcc versions."""
    import torch
    import tvm

    from .. import __version__
    from ..cache.key import nvcc_version

    return {"tiledsl": __version__, "tvm": tvm.__version__, "torch": torch.__version__, "nvcc": nvcc_version()}


def _first_device(args, kwargs):
    import torch

    for v in list(args) + list(kwargs.values()):
        if isinstance(v, torch.Tensor):
            return v.device
    return None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:100]
