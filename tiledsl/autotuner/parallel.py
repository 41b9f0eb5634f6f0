"""``factory.par_compile(configs)``: compile many configs of a ``@tiledsl.jit`` factory in parallel worker
processes (the autotuner's builder), each under a time limit (``DEFAULT_TIMEOUT`` seconds unless given), and load
the results here. Each config is elaborated here (``factory.get_tir``) and sent to the workers as a program."""
from __future__ import annotations

import tempfile
import threading

from .. import config

from ..errors import CompileError, CompileTimeoutError, ConfigError
from . import records
from .builder import Builder, prepare_request, worker_count
from .space import DeviceLimits, materialize

#: seconds one config may take to elaborate and compile when ``par_compile`` is given no ``timeout``
DEFAULT_TIMEOUT = 600.0


def par_compile(jit_impl, configs, num_workers=None, ignore_error=False, timeout=None) -> list:
    from ..runtime.target import resolve_target

    configs = materialize(list(configs), getattr(jit_impl, "func", jit_impl.get_tir), (), {}) if configs else []
    if not configs:
        return []
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise ConfigError(f"par_compile: timeout={timeout!r} must be a positive number of seconds")
    tgt = resolve_target(jit_impl.target)
    limits = DeviceLimits()
    payload = {"target": str(tgt), "out_idx": jit_impl.out_idx, "compile_flags": jit_impl.compile_flags,
               "limits": limits.to_json()}

    def prepare(cfg):
        return prepare_request(jit_impl.get_tir, {}, cfg, jit_impl.pass_configs, limits, timeout,
                               factory=getattr(jit_impl, "func", None))
    outcomes: dict[int, dict] = {}
    cond = threading.Condition()
    index = {id(c): i for i, c in enumerate(configs)}

    def on_done(cfg, outcome):
        with cond:
            outcomes[index[id(cfg)]] = outcome
            cond.notify()

    scratch = None
    if config.disk_cache_disabled():  # builds outlive the workers until this process exits
        from .tuner import _scratch

        root = config.tmp_dir()
        root.mkdir(parents=True, exist_ok=True)
        scratch = tempfile.mkdtemp(prefix="par-compile-", dir=root)
        _scratch.append(scratch)
    builder = Builder(payload, worker_count(len(configs), num_workers), timeout, on_done, prepare,
                      scratch=scratch)
    try:
        for cfg in configs:
            builder.submit(cfg)
        with cond:
            cond.wait_for(lambda: len(outcomes) == len(configs))
        return _load(jit_impl, configs, outcomes, ignore_error)  # before the workers exit (scratch artifacts)
    finally:
        builder.close()


def _load(jit_impl, configs, outcomes, ignore_error) -> list:
    from ..runtime.jit import _call_key
    from ..runtime.kernel import JITKernel

    kernels = []
    for i, cfg in enumerate(configs):
        out = outcomes[i]
        if out.get("status") != "built":
            if ignore_error:
                kernels.append(None)
                continue
            err = CompileTimeoutError if out.get("status") == records.BUILD_TIMEOUT else CompileError
            name = getattr(jit_impl, "__name__", "kernel")
            raise err(f"{name}({cfg}): {out.get('status')}: {out.get('reason')}")
        kernel = JITKernel.load(out["artifact"])
        with jit_impl._lock:  # later calls with the same arguments reuse it
            kernel = jit_impl._kernels.setdefault(_call_key((), cfg), kernel)
        kernels.append(kernel)
    return kernels
