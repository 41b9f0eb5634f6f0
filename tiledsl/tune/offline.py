"""Tuning ahead of time: ``tune_shapes`` (a list of argument dicts -> a shipped configs file, one tuning per
bucket, resumable) and ``warmup`` (fill the caches before a run)."""
from __future__ import annotations

import logging
from pathlib import Path

from ..errors import ConfigError
from . import buckets as bk
from . import shipped
from .dispatch import UNTUNED

logger = logging.getLogger(__name__)


def _autotuned(factory, what: str):
    from ..autotuner.decorator import AutotuneImpl

    if not isinstance(factory, AutotuneImpl):
        raise ConfigError(f"{what} needs a factory decorated with @tiledsl.autotune(...) above @tiledsl.jit, got "
                          f"{type(factory).__name__} {getattr(factory, '__name__', '')!r}")
    return factory


def _check_shapes(shapes) -> list[dict]:
    if isinstance(shapes, dict) or not isinstance(shapes, (list, tuple)):
        raise ConfigError(f"shapes must be a list of argument dicts such as [{{'M': 1, 'N': 4096, 'K': 4096}}], got "
                          f"{type(shapes).__name__}")
    for i, shape in enumerate(shapes):
        if not isinstance(shape, dict):
            raise ConfigError(f"shapes[{i}] is {shape!r}; each shape is a dict of the factory's arguments")
    return [dict(s) for s in shapes]


def tune_shapes(factory, shapes, out_dir, progress: bool = True) -> dict:
    """Tune ``factory`` (an ``@autotune`` factory) once per bucket of ``shapes`` and write
    ``out_dir/<device>/<name>.json`` after each bucket (a killed run resumes from the file).

    Returns ``{"path", "tuned", "resumed", "buckets"}``: the file, how many buckets were tuned now, how many were
    already in the file."""
    from tqdm import tqdm

    from ..autotuner.identity import function_identity

    impl = _autotuned(factory, "tiledsl.tune.tune_shapes")
    shapes = _check_shapes(shapes)
    dispatch = impl.tune_dispatch
    kind = dispatch.target_kind_of()
    device = shipped.device_name(kind)
    path = shipped.file_path(out_dir, device, impl.__name__)
    func = impl._func
    header = {"factory": f"{func.__module__}:{func.__qualname__}", "name": impl.__name__, "device": device,
              "target_kind": kind, "versions": shipped.software_versions(kind),
              "bucketing": dispatch.spec.identity(), "factory_identity": function_identity(func)}
    entries = _resumable_entries(path, header)
    done = {bk.label(e["bucket"]) for e in entries}
    resumed = len(done)
    tuned = 0
    bar = tqdm(shapes, desc=f"Tuning {impl.__name__} by bucket", unit="shape", disable=None if progress else True)
    for shape in bar:
        bucket = dispatch.bucket_of((), shape)
        label = bk.label(bucket)
        bar.set_postfix(bucket=label[:40])
        if label in done:
            continue
        result = dispatch.tune_bucket((), shape, bucket)
        entries.append({"bucket": bucket, "config": dict(result.config), "latency_ms": result.latency,
                        "shape": shape})
        done.add(label)
        tuned += 1
        shipped.write_file(path, {**header, "buckets": entries})
    if not path.exists():  # nothing new and nothing before (an empty shape list)
        shipped.write_file(path, {**header, "buckets": entries})
    logger.info("%s: %d buckets tuned, %d already in %s", impl.__name__, tuned, resumed, path)
    return {"path": str(path), "tuned": tuned, "resumed": resumed, "buckets": len(entries)}


def _resumable_entries(path: Path, header: dict) -> list[dict]:
    """The buckets already in ``path`` when it was written for the same factory, bucketing and versions."""
    if not path.is_file():
        return []
    try:
        data = shipped.read_file(path)
    except ConfigError as err:
        logger.warning("starting %s afresh: %s", path, err)
        return []
    same = all(data.get(k) == header[k] for k in ("factory", "versions", "bucketing", "factory_identity"))
    if not same:
        logger.warning("starting %s afresh: it was written for another factory source, bucketing or versions", path)
        return []
    return list(data["buckets"])


def warmup(factory, shapes, tune: bool = True) -> list:
    """Compile (and, with ``tune=True``, tune each new bucket of) ``factory`` for every argument dict in
    ``shapes``, filling the in-process and disk caches before a run; returns the kernels in order.

    ``factory`` is an ``@autotune`` factory (buckets are tuned even while tuning is off: warm-up is an explicit
    request; ``tune=False`` only compiles the cached, shipped or default configs) or a plain ``@jit`` one."""
    from ..autotuner.decorator import AutotuneImpl
    from ..runtime.jit import JITImpl

    shapes = _check_shapes(shapes)
    if isinstance(factory, JITImpl):
        return [factory(**shape) for shape in shapes]
    impl = _autotuned(factory, "tiledsl.warmup")
    assert isinstance(impl, AutotuneImpl)
    kernels = []
    for shape in shapes:
        choice = impl.tune_dispatch.choice_for((), shape)
        if tune and (choice is None or choice.how == UNTUNED):
            if not _cached_or_shipped(impl, shape):
                impl.tune_dispatch.tune_bucket((), shape)
        kernels.append(impl(**shape))
    return kernels


def _cached_or_shipped(impl, shape) -> bool:
    """True when a call with ``shape`` finds its config without tuning (shipped file or bucket disk cache)."""
    from . import bucket_cache

    dispatch = impl.tune_dispatch
    bucket = dispatch.bucket_of((), shape)
    shipped_configs = dispatch.shipped_configs()
    if shipped_configs is not None and shipped_configs.lookup(bucket)[0] is not None:
        return True
    return bucket_cache.load(dispatch.disk_key(bucket)) is not None
