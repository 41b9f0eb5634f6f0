"""Shape buckets: which calls of an ``@autotune`` factory share one tuning.

A call's *bucket* is computed from its arguments in one of three ways:

* ``key_fn(*args, **kwargs) -> hashable``: full control, the value is the bucket;
* ``key=["M", "N", "K"]`` (optionally with ``bucket={"M": next_power_of_2}``): the values of the named arguments,
  each passed through its bucket function; arguments not named in ``key`` do not start a new tuning (as in Triton);
* neither: every argument of the call, exactly (one tuning per distinct call, the classic behaviour), with bucket
  functions applied to the arguments they name.

Buckets are written to files as JSON (``label``) and compared by ``distance`` to find the nearest tuned bucket for
a call outside the tuned ones.
"""
from __future__ import annotations

import inspect
import math

from ..autotuner.identity import function_identity, value_identity
from ..cache.key import canonical_json
from ..errors import ConfigError
from ..math import next_power_of_2  # noqa: F401 - tiledsl.tune.next_power_of_2


class BucketSpec:
    """How a factory's calls map to buckets (see the module doc)."""

    def __init__(self, func, key=None, bucket=None, key_fn=None):
        self.func = func
        self.signature = inspect.signature(func)
        params = self.signature.parameters
        name = getattr(func, "__name__", "factory")
        if key is not None and key_fn is not None:
            raise ConfigError(f"@autotune on {name}: give key=[...] or key_fn=..., not both")
        if key_fn is not None and not callable(key_fn):
            raise ConfigError(f"@autotune on {name}: key_fn must be callable, got {type(key_fn).__name__}")
        if isinstance(key, str):
            key = [key]
        self.key = list(key) if key is not None else None
        self.bucket = dict(bucket or {})
        self.key_fn = key_fn
        for arg in (self.key or []) + list(self.bucket):
            if arg not in params:
                raise ConfigError(f"@autotune on {name}: key/bucket names {arg!r}, which is not an argument of "
                                  f"{name}{self.signature}")
        for arg, fn in self.bucket.items():
            if not callable(fn):
                raise ConfigError(f"@autotune on {name}: bucket[{arg!r}] must be a function of the value (e.g. "
                                  f"tiledsl.tune.next_power_of_2), got {type(fn).__name__}")
        if self.key is not None:
            missing = [a for a in self.bucket if a not in self.key]
            if missing:
                raise ConfigError(f"@autotune on {name}: bucket names {missing} that are not in key={self.key}; "
                                  f"add them to key")
        if key_fn is not None and self.bucket:
            raise ConfigError(f"@autotune on {name}: bucket= applies to key=; with key_fn, bucket inside key_fn")

    @property
    def exact(self) -> bool:
        """True when every call is its own bucket (no key, no key_fn, no bucket functions)."""
        return self.key is None and self.key_fn is None and not self.bucket

    def identity(self) -> dict:
        """A JSON-able identity of this bucketing (part of cache keys and shipped files)."""
        return {"key": self.key, "bucket": {k: function_identity(v) for k, v in sorted(self.bucket.items())},
                "key_fn": function_identity(self.key_fn)}

    def bucket_of(self, args: tuple, kwargs: dict):
        """The bucket of a call (a JSON-able value: a list of bucketed key values, or key_fn's result)."""
        if self.key_fn is not None:
            try:
                return value_identity(self.key_fn(*args, **kwargs))
            except Exception as err:
                raise ConfigError(f"key_fn {getattr(self.key_fn, '__name__', self.key_fn)!r} failed on "
                                  f"{args!r} {kwargs!r}: {type(err).__name__}: {err}") from None
        try:
            bound = self.signature.bind_partial(*args, **kwargs).arguments
        except TypeError as err:
            raise ConfigError(f"arguments {args!r} {kwargs!r} do not fit {self.func.__name__}{self.signature}: "
                              f"{err}") from None
        if self.key is None:
            return {k: self._bucketed(k, v) for k, v in bound.items()}
        values = []
        for arg in self.key:
            if arg in bound:
                value = bound[arg]
            else:
                default = self.signature.parameters[arg].default
                if default is inspect.Parameter.empty:
                    raise ConfigError(f"key names {arg!r} but the call {self.func.__name__}{args!r} {kwargs!r} "
                                      f"does not give it")
                value = default
            values.append(self._bucketed(arg, value))
        return values

    def _bucketed(self, arg, value):
        fn = self.bucket.get(arg)
        if fn is None:
            return value_identity(value)
        try:
            return value_identity(fn(value))
        except Exception as err:
            raise ConfigError(f"bucket[{arg!r}] ({getattr(fn, '__name__', fn)!r}) failed on {value!r}: "
                              f"{type(err).__name__}: {err}") from None


def label(bucket) -> str:
    """The canonical text of a bucket (its name in files and in-process tables)."""
    return canonical_json(bucket)


def distance(a, b) -> float:
    """How far bucket ``a`` is from ``b``: the sum of |log2| ratios of their numbers (sizes differ by factors),
    infinite when they differ anywhere else (another dtype, another structure)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return 0.0 if a == b else math.inf
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if a > 0 and b > 0:
            return abs(math.log2(a) - math.log2(b))
        return abs(float(a) - float(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return math.inf
        return sum(distance(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return math.inf
        return sum(distance(a[k], b[k]) for k in a)
    return 0.0 if a == b else math.inf


def nearest(bucket, candidates: list):
    """The index of the candidate bucket nearest to ``bucket`` (None when none is comparable)."""
    best, best_d = None, math.inf
    for i, cand in enumerate(candidates):
        d = distance(bucket, cand)
        if d < best_d:
            best, best_d = i, d
    return best
