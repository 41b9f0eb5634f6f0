"""``factory.par_compile(configs)``: compile many configs of a ``@tiledsl.jit`` factory in parallel worker
processes (the autotuner's builder), each under a time limit, and load the results here."""
from __future__ import annotations

import tempfile
import threading

from .. import config

from ..errors import CompileError, CompileTimeoutError
from . import records
from .builder import Builder, worker_count
from .space import DeviceLimits, materialize


def par_compile(jit_impl, configs, num_workers=None, ignore_error=False, timeout=None) -> list:
    from ..runtime.target import resolve_target

    configs = materialize(list(configs), jit_impl.func, (), {}) if configs else []
    if not configs:
        return []
    tgt = resolve_target(jit_impl.target)
    payload = {"factory": jit_impl.func, "kwargs": {}, "target": str(tgt), "out_idx": jit_impl.out_idx,
               "pass_configs": jit_impl.pass_configs, "compile_flags": jit_impl.compile_flags,
               "limits": DeviceLimits().to_json()}
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
    builder = Builder(payload, worker_count(len(configs), num_workers), timeout or 0, on_done, scratch=scratch)
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
            raise err(f"{jit_impl.func.__name__}({cfg}): {out.get('status')}: {out.get('reason')}")
        kernel = JITKernel.load(out["artifact"])
        with jit_impl._lock:  # later calls with the same arguments reuse it
            kernel = jit_impl._kernels.setdefault(_call_key((), cfg), kernel)
        kernels.append(kernel)
    return kernels
