"""The config space: what to try, checked against the factory before anything is compiled.

* ``configs`` is a list of dicts, or a callable taking the factory's arguments and returning any iterable of dicts
  (a generator is fine); it is materialized once.
* Every key must name an argument of the factory (``pass_configs`` is reserved: per-config TVM pass settings merged
  over the global ones). A wrong key is a :class:`ConfigError` naming it.
* Duplicates are dropped; values must be JSON-like (they are keyed and recorded as JSON).
* ``prune_fn(config, *args, **kwargs)`` returning True drops a config (recorded as pruned).
* Hardware limits: ``check_limits`` on the configs themselves (``threads`` above the device's maximum) and
  ``check_program`` on an elaborated PrimFunc (threads per block, a static estimate of shared memory: shared
  buffers, multiplied by ``num_stages`` when filled inside a ``T.Pipelined`` loop).
"""
from __future__ import annotations

import inspect
import json
from dataclasses import dataclass

from ..cache.key import canonical_json
from ..errors import ConfigError

RESERVED_KEYS = ("pass_configs",)

# opt-in shared memory per block (bytes) by compute capability
_SMEM_BY_ARCH = {"sm_70": 98304, "sm_72": 98304, "sm_75": 65536, "sm_80": 166912, "sm_86": 101376,
                 "sm_87": 166912, "sm_89": 101376, "sm_90": 232448, "sm_100": 232448, "sm_103": 232448,
                 "sm_120": 101376}


@dataclass(frozen=True)
class DeviceLimits:
    """What one thread block may use on the tuning device (None: no limit known)."""

    max_threads: int | None = None
    max_shared_bytes: int | None = None

    @staticmethod
    def for_target(target) -> "DeviceLimits":
        """Limits for a tvm Target: CUDA by arch, none for the CPU."""
        if target.kind.name != "cuda":
            return DeviceLimits()
        arch = str(target.attrs.get("arch", "")).rstrip("af")
        return DeviceLimits(max_threads=1024, max_shared_bytes=_SMEM_BY_ARCH.get(arch))

    def to_json(self) -> dict:
        return {"max_threads": self.max_threads, "max_shared_bytes": self.max_shared_bytes}


def config_id(config: dict) -> str:
    """The canonical text of a config (its identity in records and keys)."""
    return canonical_json(config)


def describe_signature(func) -> str:
    return f"{func.__name__}{inspect.signature(func)}"


def materialize(configs, func, args: tuple, kwargs: dict) -> list[dict]:
    """The list of config dicts, validated against ``func``'s signature and deduplicated (order kept)."""
    if configs is None:
        raise ConfigError(f"autotune needs configs= (a list of dicts, or a callable returning them) for "
                          f"{func.__name__}")
    if callable(configs):
        try:
            produced = configs(*args, **kwargs)
        except TypeError as err:
            raise ConfigError(f"the configs callable {getattr(configs, '__name__', configs)!r} could not be called "
                              f"with the factory's arguments {args!r} {kwargs!r}: {err}") from None
    else:
        produced = configs
    if isinstance(produced, dict):
        raise ConfigError("configs must be a list of dicts (one per candidate), not a single dict")
    try:
        items = list(produced)
    except TypeError:
        raise ConfigError(f"configs must be a list of dicts or a callable returning an iterable of dicts, got "
                          f"{type(produced).__name__}") from None
    params = inspect.signature(func).parameters
    out, seen = [], set()
    for i, cfg in enumerate(items):
        if not isinstance(cfg, dict):
            raise ConfigError(f"config #{i} is a {type(cfg).__name__}, not a dict: {cfg!r}")
        for key in cfg:
            if key in RESERVED_KEYS:
                if not isinstance(cfg[key], dict):
                    raise ConfigError(f"config #{i}: 'pass_configs' must be a dict, got {cfg[key]!r}")
                continue
            if key not in params:
                raise ConfigError(f"config key {key!r} (in config #{i}: {cfg!r}) names no argument of "
                                  f"{describe_signature(func)}; fix the key or add the argument")
            if key in kwargs or _positional_index(params, key) < len(args):
                raise ConfigError(f"config key {key!r} is tuned, but the call also passes {key}= explicitly; "
                                  f"drop one of them")
        try:
            ident = config_id(cfg)
            json.loads(json.dumps(cfg))
        except (TypeError, ValueError):
            raise ConfigError(f"config #{i} {cfg!r} holds a value that is not JSON (numbers, strings, bools, "
                              f"None, lists, dicts)") from None
        if ident in seen:
            continue
        seen.add(ident)
        out.append(dict(cfg))
    if not out:
        raise ConfigError(f"the config space of {func.__name__} is empty")
    return out


def _positional_index(params, name: str) -> int:
    for i, (pname, p) in enumerate(params.items()):
        if pname == name:
            return i if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) else 10 ** 9
    return 10 ** 9


def tunable_names(func) -> list[str]:
    """The factory's arguments with defaults (what configs normally set)."""
    return [n for n, p in inspect.signature(func).parameters.items() if p.default is not inspect.Parameter.empty]


def check_limits(config: dict, limits: DeviceLimits) -> str | None:
    """Why ``config`` cannot fit the device judging by its values alone, or None."""
    threads = config.get("threads")
    if limits.max_threads is not None and isinstance(threads, int) and threads > limits.max_threads:
        return f"threads={threads} exceeds the device's {limits.max_threads} threads per block"
    return None


def user_prune(prune_fn, config: dict, args: tuple, kwargs: dict) -> str | None:
    """Why the user's ``prune_fn`` drops ``config``, or None. Its exceptions are the user's mistake."""
    if prune_fn is None:
        return None
    try:
        drop = prune_fn(config, *args, **kwargs)
    except Exception as err:
        raise ConfigError(f"prune_fn {getattr(prune_fn, '__name__', prune_fn)!r} raised on config {config!r}: "
                          f"{type(err).__name__}: {err}") from err
    return "dropped by prune_fn" if drop else None


def check_program(prim_func, limits: DeviceLimits) -> str | None:
    """Why an elaborated tile program cannot fit the device (threads, static shared memory), or None."""
    if limits.max_threads is None and limits.max_shared_bytes is None:
        return None
    usage = program_usage(prim_func)
    if limits.max_threads is not None and usage["threads"] > limits.max_threads:
        return f"{usage['threads']} threads per block exceed the device's {limits.max_threads}"
    if limits.max_shared_bytes is not None and usage["shared_bytes"] > limits.max_shared_bytes:
        return (f"needs about {usage['shared_bytes'] // 1024} KiB of shared memory (pipelined buffers counted "
                f"once per stage), the device allows {limits.max_shared_bytes // 1024} KiB per block")
    return None


def program_usage(prim_func) -> dict:
    """Threads per block and an estimate of static shared memory bytes of a tile program."""
    import tvm_ffi
    from tvm import tirx

    threads = 1
    shared: dict[str, int] = {}
    staged: dict[str, int] = {}

    def on_attr(node):
        nonlocal threads
        if node.attr_key == "thread_extent" and str(node.node.thread_tag).startswith("threadIdx"):
            if isinstance(node.value, tirx.IntImm):
                threads *= int(node.value)

    def on_alloc(node):
        buf = node.buffer
        if buf.scope().startswith("shared"):
            n = 1
            for s in buf.shape:
                if not isinstance(s, tirx.IntImm):
                    return
                n *= int(s)
            shared[buf.name] = n * max(1, tvm_bits(buf.dtype)) // 8

    def on_for(node):
        ann = node.annotations
        stages = None
        for k in ann.keys() if ann is not None else ():
            if "num_stages" in str(k):
                stages = int(ann[k])
        if not stages or stages < 2:
            return
        def on_region(call):
            for arg in getattr(call, "args", []):
                buf = getattr(arg, "source", None) if type(arg).__name__ == "TensorRegion" else None
                if buf is not None and hasattr(buf, "scope") and buf.scope().startswith("shared"):
                    staged[buf.name] = max(staged.get(buf.name, 1), stages)
        tvm_ffi.structural_walk(node.body, (tvm_ffi_call_type(), on_region))

    tvm_ffi.structural_walk(prim_func.body, [(tirx.AttrStmt, on_attr), (tirx.AllocBuffer, on_alloc),
                                             (tirx.For, on_for)])
    total = sum(b * staged.get(name, 1) for name, b in shared.items())
    return {"threads": threads, "shared_bytes": total}


def tvm_bits(dtype) -> int:
    import tvm

    return tvm.DataType(str(dtype)).bits * tvm.DataType(str(dtype)).lanes


def tvm_ffi_call_type():
    import tvm

    return tvm.ir.Call
