"""``@tiledsl.autotune``: stacked on ``@tiledsl.jit``, it tunes once per distinct set of the non-tuned arguments
(remembered in the process and, through the tuner, on disk) and returns the best JITKernel."""
from __future__ import annotations

import functools
import logging
import threading

from ..errors import ConfigError
from ..runtime.jit import _call_key
from . import contextual
from .capture import get_autotune_inputs
from .identity import value_identity
from .tuner import AutoTuner

logger = logging.getLogger(__name__)


class AutotuneImpl:
    """What ``@autotune(...)`` returns: call it like the factory, get the tuned JITKernel."""

    def __init__(self, jit_impl, configs, tuner_kwargs: dict, prune_fn=None, do_not_specialize=None, quiet=None,
                 key=None, bucket=None, key_fn=None, configs_dir=None, default_config=None,
                 run_kwargs: dict | None = None):
        # any @jit flavour: the tuner needs only get_tir(*args, **kwargs) and the compile settings
        if not all(hasattr(jit_impl, name) for name in ("get_tir", "out_idx", "target", "pass_configs")):
            raise ConfigError(f"@tiledsl.autotune must sit above @tiledsl.jit (it got "
                              f"{type(jit_impl).__name__} {getattr(jit_impl, '__name__', '')!r}); write "
                              f"@tiledsl.autotune(...) on the line above @tiledsl.jit(...)")
        self._func = getattr(jit_impl, "func", jit_impl)
        functools.update_wrapper(self, self._func)
        self.jit_impl = jit_impl
        self.configs = configs
        self.prune_fn = prune_fn
        self.tuner_kwargs = tuner_kwargs
        self.quiet = quiet
        self.run_kwargs = dict(run_kwargs or {})  # benchmark_devices, autotune_pg, ... (AutoTuner.run)
        self.do_not_specialize = set(do_not_specialize or ())
        self._results: dict = {}
        self._fast: dict = {}  # the call's own (args, kwargs) -> tuned kernel, when no autotune inputs are set
        self._lock = threading.Lock()
        # --- tiledsl.tune (issue 10): buckets, shipped configs, the on/off switch; see tiledsl/tune/dispatch.py
        from ..tune.buckets import BucketSpec
        from ..tune.dispatch import TuneDispatch

        self.tune_dispatch = TuneDispatch(self, BucketSpec(self._func, key=key, bucket=bucket, key_fn=key_fn),
                                          configs_dir=configs_dir, default_config=default_config)

    @property
    def stats(self) -> dict:
        """How many buckets were resolved each way in this process: tuned, cache, shipped, nearest,
        shipped_default (the file's default), default (tuning off: default_config or the first config)."""
        return dict(self.tune_dispatch.stats)

    def _key(self, args, kwargs):
        import inspect

        from .capture import get_autotune_inputs
        from .identity import tensor_digest

        bound = inspect.signature(self._func).bind_partial(*args, **kwargs).arguments
        inputs = get_autotune_inputs()
        return repr((value_identity({k: v for k, v in bound.items() if k not in self.do_not_specialize}),
                     tensor_digest(inputs) if inputs is not None else None))

    def _explicit_tuned_keys(self, args, kwargs) -> set:
        import inspect

        bound = inspect.signature(self._func).bind_partial(*args, **kwargs).arguments
        if callable(self.configs):
            return set()
        keys = {k for cfg in self.configs if isinstance(cfg, dict) for k in cfg}
        return keys & set(bound)

    def tune(self, *args, **kwargs):
        """The AutotuneResult for these arguments (tuning, or the cached result)."""
        key = self._key(args, kwargs)
        with self._lock:
            hit = self._results.get(key)
        if hit is not None:
            return hit
        tuner = AutoTuner(self.jit_impl, self.configs, prune_fn=self.prune_fn)
        tuner.set_profile_args(**self.tuner_kwargs)
        tuner.set_kernel_parameters(args, kwargs)
        result = tuner.run(quiet=self.quiet, **self.run_kwargs)
        with self._lock:
            self._results[key] = result
        return result

    def __call__(self, *args, **kwargs):
        tuning = contextual.current()
        if tuning is not None:  # inside a @contextual_autotune function: it decides which kernel runs
            return tuning.kernel_for(self, args, kwargs)
        run_on = None
        if hasattr(self.jit_impl, "without_tensors"):  # TileLang's newer style: tune on the tensors' sizes, then run
            kwargs, run_on = self.jit_impl.without_tensors(args, kwargs)
            args = ()
        kernel = self._tuned(args, kwargs)
        return kernel(*run_on) if run_on else kernel

    def _tuned(self, args, kwargs):
        fast_key = _call_key(args, kwargs) if get_autotune_inputs() is None else None
        if fast_key is not None:
            kernel = self._fast.get(fast_key)
            if kernel is not None:
                return kernel
        kernel = self._resolve(args, kwargs)
        if fast_key is not None:
            with self._lock:
                self._fast[fast_key] = kernel
        return kernel

    def _resolve(self, args, kwargs):
        explicit = self._explicit_tuned_keys(args, kwargs)
        if explicit:
            logger.info("%s: tunable parameters %s were passed explicitly; compiling that config without tuning",
                        self.__name__, sorted(explicit))
            return self.build(*args, **kwargs)
        return self.tune_dispatch.kernel_for(args, kwargs)

    def build(self, *args, **kwargs):
        """Compile one config without tuning: the factory's arguments (for the newer style, its sizes and
        non-tensor arguments, as ``.compile`` takes them) plus the config's values."""
        if hasattr(self.jit_impl, "without_tensors"):
            return self.jit_impl.compile(*args, **kwargs)
        return self.jit_impl(*args, **kwargs)

    def compile(self, *args, **kwargs):
        """The tuned kernel (TileLang's spelling)."""
        return self(*args, **kwargs)

    def get_tir(self, *args, **kwargs):
        return self.jit_impl.get_tir(*args, **kwargs)

    def par_compile(self, configs, num_workers=None, ignore_error=False, timeout=None):
        return self.jit_impl.par_compile(configs, num_workers=num_workers, ignore_error=ignore_error,
                                         timeout=timeout)


def autotune(func=None, *, configs=None, warmup: int = 25, rep: int = 100, timeout: float = 60, supply_type=None,
             ref_prog=None, supply_prog=None, rtol: float = 1e-2, atol: float = 1e-2,
             max_mismatched_ratio: float = 0.0, skip_check: bool = False, manual_check_prog=None,
             cache_input_tensors: bool = False, prune_fn=None, do_not_specialize=None, top_k: int = 5,
             retime_rounds: int = 5, backend: str = "auto", early_stop_factor: float = 2.0,
             early_stop: bool | None = None, quiet: bool | None = None, key=None, bucket=None, key_fn=None,
             configs_dir=None, default_config=None, reset_to_zero=None, restore_value=None,
             benchmark_devices=None, autotune_pg=None,
             autotune_split: bool = True, autotune_sync_timeout: float | None = None):
    """Tune a ``@tiledsl.jit`` factory over ``configs`` (a list of dicts, or a callable taking the factory's
    arguments and returning an iterable of dicts).

    ``warmup``/``rep``: iterations before and during timing; ``timeout``: seconds per candidate (for its compile,
    and again for its check and timing); ``ref_prog``/``manual_check_prog``/``rtol``/``atol``/
    ``max_mismatched_ratio``/``skip_check``: correctness checks; ``supply_type``/``supply_prog``: inputs (or use
    ``tiledsl.set_autotune_inputs``); ``prune_fn(config, *args, **kwargs)`` returning True drops a config;
    ``top_k`` finalists are re-timed ``retime_rounds`` times before the winner is chosen; ``quiet=True`` (or
    ``TILEDSL_AUTO_TUNING_QUIET=1``) hides the progress and the winner line written to stderr. A candidate whose
    5-iteration estimate is over ``early_stop_factor`` times the best so far is not timed further, unless
    ``early_stop=False`` (TileLang's switch; tiledsl stops early unless told not to).

    Real workloads (``tiledsl.tune``, docs/autotuner.md): ``key=["M", "N", "K"]`` with ``bucket={"M":
    tiledsl.tune.next_power_of_2}``, or ``key_fn(*args, **kwargs)``, makes one tuning serve a bucket of sizes;
    ``configs_dir`` reads shipped configs (``python -m tiledsl.tune``); ``default_config`` is used when tuning is
    off (``tiledsl.disable_autotune()``); ``reset_to_zero`` / ``restore_value`` name kernel parameters zeroed /
    restored before every launch while tuning (kernels that accumulate or update in place).
    ``benchmark_devices`` (GPU indices, ``"all"``) measures on several local devices; ``autotune_pg`` /
    ``autotune_split`` / ``autotune_sync_timeout`` tune together with the ranks of a torch.distributed process
    group (see ``AutoTuner.run`` and docs/distributed.md).
    """
    if func is not None and configs is None:
        raise ConfigError("@tiledsl.autotune needs configs=...: write @tiledsl.autotune(configs=[...])")
    tuner_kwargs = dict(warmup=warmup, rep=rep, timeout=timeout, supply_type=supply_type, ref_prog=ref_prog,
                        supply_prog=supply_prog, rtol=rtol, atol=atol, max_mismatched_ratio=max_mismatched_ratio,
                        skip_check=skip_check, manual_check_prog=manual_check_prog,
                        cache_input_tensors=cache_input_tensors, top_k=top_k, retime_rounds=retime_rounds,
                        backend=backend)
    from .tuner import ProfileArgs, _validate_profile, param_names, resolve_early_stop

    tuner_kwargs["early_stop_factor"] = resolve_early_stop(early_stop, early_stop_factor)

    tuner_kwargs.update(reset_to_zero=param_names("reset_to_zero", reset_to_zero),
                        restore_value=param_names("restore_value", restore_value))

    _validate_profile(ProfileArgs(**{k: v for k, v in tuner_kwargs.items()}))

    def wrap(jit_impl):
        return AutotuneImpl(jit_impl, configs, tuner_kwargs, prune_fn=prune_fn,
                            do_not_specialize=do_not_specialize, quiet=quiet, key=key, bucket=bucket,
                            key_fn=key_fn, configs_dir=configs_dir, default_config=default_config,
                            run_kwargs=dict(benchmark_devices=benchmark_devices, autotune_pg=autotune_pg,
                                            autotune_split=autotune_split,
                                            autotune_sync_timeout=autotune_sync_timeout))
    return wrap(func) if func is not None else wrap
