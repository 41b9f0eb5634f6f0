"""``do_bench``: time a callable.

``warmup`` and ``rep`` are **iteration counts** everywhere in tiledsl (here, in ``@tiledsl.autotune`` and in
``AutoTuner.set_profile_args``): ``warmup`` untimed calls, then ``rep`` timed calls. The result is in milliseconds.

* CUDA (``backend="event"``): one pair of CUDA events around each call, L2 flushed (a 256 MiB buffer zeroed) before
  each timed call, so every sample sees a cold L2; the launch gap is included.
* CUDA (``backend="cudagraph"``): ``rep`` calls captured into one CUDA graph, replayed ``rounds`` times with an L2
  flush before each replay; for tiny kernels whose launch overhead would dominate. Reports time per call.
* CPU (``backend="wall"``, the default when no CUDA device is involved): ``time.perf_counter`` around each call.
  Without a usable CUDA device (torch built without CUDA, no GPU, or ``device`` on the CPU), ``"event"``,
  ``"cudagraph"`` and ``"cupti"`` time on the wall clock too: CUDA events cannot time work that runs on the CPU,
  so a program written for a GPU (``do_bench(fn, backend="event")``) still runs, and times, on the CPU target.

The statistic is the median unless ``return_mode`` says otherwise ("median", "mean", "min", "max", "all").
"""
from __future__ import annotations

import logging
import statistics
import time

import torch

from ..errors import ConfigError

logger = logging.getLogger(__name__)

_FLUSH_BYTES = 256 * 1024 * 1024
_flush_buffers: dict = {}


def _reduce(samples: list[float], return_mode: str):
    if return_mode == "median":
        return statistics.median(samples)
    if return_mode == "mean":
        return statistics.fmean(samples)
    if return_mode == "min":
        return min(samples)
    if return_mode == "max":
        return max(samples)
    if return_mode == "all":
        return list(samples)
    raise ConfigError(f"return_mode={return_mode!r}: use 'median', 'mean', 'min', 'max' or 'all'")


def _check_counts(warmup, rep):
    if not isinstance(warmup, int) or warmup < 0:
        raise ConfigError(f"warmup={warmup!r} must be a non-negative number of iterations")
    if not isinstance(rep, int) or rep < 1:
        raise ConfigError(f"rep={rep!r} must be a positive number of iterations")


def flush_buffer(device) -> torch.Tensor:
    """The per-device buffer zeroed to flush L2 (allocated once, not per call)."""
    device = torch.device(device)
    buf = _flush_buffers.get(device)
    if buf is None:
        buf = _flush_buffers[device] = torch.empty(_FLUSH_BYTES // 4, dtype=torch.int32, device=device)
    return buf


def do_bench(fn, warmup: int = 25, rep: int = 100, *, backend: str = "auto", device=None, flush_l2: bool = True,
             return_mode: str = "median", rounds: int = 10):
    """Milliseconds per call of ``fn()``: ``warmup`` untimed calls, then ``rep`` timed calls; see the module doc."""
    _check_counts(warmup, rep)
    if backend == "cupti":  # TileLang's CUPTI timer: CUDA events time the same kernels here
        backend = "auto"
    if backend == "auto":
        backend = "event" if _on_cuda(device) else "wall"
    elif backend in ("event", "cudagraph") and not _on_cuda(device):
        logger.debug("do_bench(backend=%r): no CUDA device is involved, timing on the wall clock", backend)
        backend = "wall"
    if backend == "wall":
        return _bench_wall(fn, warmup, rep, return_mode)
    if backend == "event":
        return _bench_events(fn, warmup, rep, device, flush_l2, return_mode)
    if backend == "cudagraph":
        return _bench_graph(fn, warmup, rep, device, flush_l2, return_mode, rounds)
    raise ConfigError(f"backend={backend!r}: use 'auto', 'event', 'cudagraph' or 'wall'")


def _on_cuda(device) -> bool:
    """True when the timed work runs on a CUDA device: ``device`` is a CUDA device, or none is given and torch has
    one."""
    if device is not None:
        return torch.device(device).type == "cuda" and torch.cuda.is_available()
    return torch.cuda.is_available()


def _bench_wall(fn, warmup, rep, return_mode):
    for _ in range(warmup):
        fn()
    samples = []
    clock = time.perf_counter
    for _ in range(rep):
        start = clock()
        fn()
        samples.append((clock() - start) * 1e3)
    return _reduce(samples, return_mode)


def _bench_events(fn, warmup, rep, device, flush_l2, return_mode):
    device = torch.device(device) if device is not None else torch.device("cuda", torch.cuda.current_device())
    with torch.cuda.device(device):
        cache = flush_buffer(device) if flush_l2 else None
        for _ in range(warmup):
            fn()
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(rep)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(rep)]
        torch.cuda.synchronize(device)
        for i in range(rep):
            if cache is not None:
                cache.zero_()
            starts[i].record()
            fn()
            ends[i].record()
        torch.cuda.synchronize(device)
        samples = [s.elapsed_time(e) for s, e in zip(starts, ends)]
    return _reduce(samples, return_mode)


def _bench_graph(fn, warmup, rep, device, flush_l2, return_mode, rounds):
    device = torch.device(device) if device is not None else torch.device("cuda", torch.cuda.current_device())
    with torch.cuda.device(device):
        cache = flush_buffer(device) if flush_l2 else None
        stream = torch.cuda.Stream(device)
        with torch.cuda.stream(stream):
            for _ in range(max(1, warmup)):
                fn()
            stream.synchronize()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, stream=stream):
                for _ in range(rep):
                    fn()
            samples = []
            for _ in range(rounds):
                if cache is not None:
                    cache.zero_()
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                graph.replay()
                end.record()
                end.synchronize()
                samples.append(start.elapsed_time(end) / rep)
    return _reduce(samples, return_mode)
