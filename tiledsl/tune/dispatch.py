"""What a call of an ``@autotune`` factory compiles: the config of its bucket, found in this order

1. this process's table of buckets;
2. the shipped configs (``configs_dir=`` or ``TILEDSL_TUNED_CONFIGS``): the bucket's winner, else the nearest
   tuned bucket's, else the file's default;
3. the disk cache of bucket winners (a bucket tuned by an earlier process);
4. a tuning run on this call's arguments, when tuning is on (``tiledsl.is_autotune_enabled()``);
5. otherwise ``default_config``, else the first config (never tuning; forgotten when tuning is enabled again).

The winner of a bucket serves every size in it: the kernel for the call's exact arguments is compiled with the
bucket's config (through ``@jit``'s cache and the kernel disk cache, so each size compiles once).
"""
from __future__ import annotations

import inspect
import logging
import threading
from collections import Counter
from dataclasses import dataclass

from .. import config as env
from ..errors import ConfigError
from . import bucket_cache, report, switch
from . import buckets as bk
from .shipped import ShippedConfigs

logger = logging.getLogger(__name__)

UNTUNED = "default"  # a choice made while tuning was off, replaced once it is on


@dataclass
class Choice:
    """A bucket's config and where it came from (``tuned``, ``cache``, ``shipped``, ``nearest``,
    ``shipped_default`` or ``default``)."""

    config: dict
    how: str
    latency_ms: float | None = None
    shape: dict | None = None
    kernel: object = None  # the tuned kernel of exactly ``shape`` (returned again for that call)
    ref_latency_ms: float | None = None  # the reference program's time, measured with ``latency_ms``


class TuneDispatch:
    """The per-factory table of buckets behind ``AutotuneImpl.__call__`` (see the module doc)."""

    def __init__(self, impl, spec: bk.BucketSpec, configs_dir=None, default_config=None):
        self.impl = impl
        self.spec = spec
        self.configs_dir = configs_dir
        if default_config is not None and not isinstance(default_config, dict):
            raise ConfigError(f"default_config must be a dict of tuned arguments, got "
                              f"{type(default_config).__name__}")
        if default_config:
            _check_config(impl._func, default_config, "default_config")
        self.default_config = dict(default_config) if default_config is not None else None
        self.stats: Counter = Counter()  # how many buckets were resolved each way
        self._memory: dict[str, Choice] = {}
        self._shipped: dict = {}
        self._seen_results: set = set()
        self._static_key: dict | None = None
        self._lock = threading.Lock()
        switch.watch(self)

    # ------------------------------------------------------------------ calls
    def kernel_for(self, args: tuple, kwargs: dict):
        """The kernel for this call (tuning its bucket first when needed and allowed)."""
        bucket = self.bucket_of(args, kwargs)
        label = bk.label(bucket)
        choice = self._memory.get(label)
        if choice is not None:
            return self._compile(args, kwargs, choice)
        choice, kernel = self._choose(args, kwargs, bucket, allow_tune=switch.is_autotune_enabled())
        with self._lock:
            self._memory[label] = choice
            if choice.how != "tuned":  # tune_bucket counts the tunings
                self.stats[choice.how] += 1
        return kernel if kernel is not None else self._compile(args, kwargs, choice)

    def bucket_of(self, args: tuple, kwargs: dict):
        """The call's bucket; in the classic mode (no key), ``set_autotune_inputs`` tensors are part of it."""
        bucket = self.spec.bucket_of(args, kwargs)
        if self.spec.exact:
            from ..autotuner.capture import get_autotune_inputs
            from ..autotuner.identity import tensor_digest

            inputs = get_autotune_inputs()
            if inputs is not None:
                bucket = {"args": bucket, "inputs": tensor_digest(inputs)}
        return bucket

    def choice_for(self, args: tuple, kwargs: dict) -> Choice | None:
        """The bucket's choice if one was made in this process (nothing is tuned or compiled)."""
        return self._memory.get(bk.label(self.bucket_of(args, kwargs)))

    def forget_untuned(self) -> None:
        """Drop the choices made while tuning was off (called by ``tiledsl.enable_autotune()``)."""
        with self._lock:
            for label in [k for k, c in self._memory.items() if c.how == UNTUNED]:
                del self._memory[label]
            fast = getattr(self.impl, "_fast", None)  # the decorator's per-call table holds those kernels
            if fast is not None:
                fast.clear()

    def _choose(self, args, kwargs, bucket, allow_tune: bool):
        name = self.impl.__name__
        shipped = self.shipped_configs()
        if shipped is not None:
            config, how = shipped.lookup(bucket)
            if config is not None:
                _check_config(self.impl._func, config, f"{shipped.path}")
                return Choice(config, how), None
        record = bucket_cache.load(self.disk_key(bucket))
        if record is not None:
            logger.info("%s: bucket %s was tuned before (on %s): %s", name, bk.label(bucket), record.get("shape"),
                        record["config"])
            return Choice(record["config"], "cache", record.get("latency_ms"), record.get("shape"),
                          ref_latency_ms=record.get("ref_latency_ms")), None
        if allow_tune:
            result = self.tune_bucket(args, kwargs, bucket)  # a tuning, or the tuner's cache for these arguments
            how = "cache" if result.from_cache else "tuned"
            return Choice(dict(result.config), how, result.latency, self._shape(args, kwargs), kernel=result.kernel,
                          ref_latency_ms=result.ref_latency), result.kernel
        config = self.default_config if self.default_config is not None else self._first_config(args, kwargs)
        logger.info("%s: autotuning is off and bucket %s has no tuned config; using %s %s", name,
                    bk.label(bucket), "default_config" if self.default_config is not None else "the first config",
                    config)
        return Choice(dict(config), UNTUNED), None

    def tune_bucket(self, args: tuple, kwargs: dict, bucket=None):
        """Tune on this call's arguments (or take the tuner's cached result) and record the winner as the
        bucket's, in the process and on disk; returns the AutotuneResult."""
        bucket = self.bucket_of(args, kwargs) if bucket is None else bucket
        with report.tuning_context(f"bucket {bk.label(bucket)}"):  # the tuner prints the table of a fresh tuning
            result = self.impl.tune(*args, **kwargs)
        fresh = not result.from_cache and id(result) not in self._seen_results
        self._seen_results.add(id(result))
        if fresh:
            self.stats["tuned"] += 1
        shape = self._shape(args, kwargs)
        bucket_cache.store(self.disk_key(bucket), {"config": result.config, "latency_ms": result.latency,
                                                    "ref_latency_ms": result.ref_latency, "shape": shape,
                                                    "bucket": bucket, "name": self.impl.__name__})
        with self._lock:
            self._memory[bk.label(bucket)] = Choice(dict(result.config), "tuned", result.latency, shape,
                                                    kernel=result.kernel, ref_latency_ms=result.ref_latency)
        return result

    # ------------------------------------------------------------------ helpers
    def _compile(self, args, kwargs, choice: Choice):
        same_shape = choice.shape is not None and choice.shape == self._shape(args, kwargs)
        if choice.kernel is not None and same_shape:
            return choice.kernel
        bound = inspect.signature(self.impl._func).bind_partial(*args, **kwargs).arguments
        config = {k: v for k, v in choice.config.items() if k not in bound}
        kernel = self.impl.build(*args, **kwargs, **config)
        if kernel.config is None:
            kernel.config = dict(choice.config)
        if same_shape:  # measured on exactly these arguments
            if kernel.latency is None:
                kernel.latency = choice.latency_ms
            if kernel.ref_latency is None:
                kernel.ref_latency = choice.ref_latency_ms
        return kernel

    def _shape(self, args, kwargs) -> dict:
        from ..autotuner.identity import value_identity

        bound = inspect.signature(self.impl._func).bind_partial(*args, **kwargs).arguments
        return value_identity(dict(bound))

    def _first_config(self, args, kwargs) -> dict:
        from ..autotuner import space

        configs = space.materialize(self.impl.configs, self.impl._func, args, kwargs)
        if not configs:
            raise ConfigError(f"{self.impl.__name__}: autotuning is off and the config space is empty; give "
                              f"default_config=")
        return configs[0]

    def shipped_configs(self) -> ShippedConfigs | None:
        """The shipped configs file for this factory and device (loaded once per folder), or None."""
        root = self.configs_dir if self.configs_dir is not None else env.tuned_configs_dir()
        if root is None:
            return None
        cache_key = (str(root), env.force_retune())
        if cache_key not in self._shipped:
            self._shipped[cache_key] = ShippedConfigs.find(root, self.impl.__name__, self.target_kind_of())
        return self._shipped[cache_key]

    def target_kind_of(self) -> str:
        """The factory's target kind (``cuda`` or ``llvm``)."""
        from ..runtime.target import resolve_target, target_kind

        return target_kind(resolve_target(self.impl.jit_impl.target))

    def disk_key(self, bucket) -> str:
        """The bucket's key in the disk cache of bucket winners."""
        if self._static_key is None:
            from ..autotuner.identity import function_identity, value_identity
            from ..autotuner.tuner import ProfileArgs
            from ..cache import environment_stamp
            from ..runtime.target import resolve_target, target_kind

            jit = self.impl.jit_impl
            tgt = resolve_target(jit.target)
            self._static_key = {
                "factory": function_identity(jit.func), "bucketing": self.spec.identity(),
                "space": value_identity(self.impl.configs), "prune_fn": function_identity(self.impl.prune_fn),
                "profile": ProfileArgs(**self.impl.tuner_kwargs).key_json(),
                "compile": {"target": str(tgt), "out_idx": jit.out_idx, "pass_configs": jit.pass_configs,
                            "compile_flags": jit.compile_flags},
                "env": environment_stamp(target_kind(tgt), with_device=True)}
        return bucket_cache.bucket_key({**self._static_key, "bucket": bucket})


def _check_config(func, config: dict, where: str) -> None:
    params = inspect.signature(func).parameters
    unknown = [k for k in config if k not in params and k != "pass_configs"]
    if unknown:
        raise ConfigError(f"{where}: config {config} names {unknown}, which are not arguments of "
                          f"{func.__name__}{inspect.signature(func)}")
