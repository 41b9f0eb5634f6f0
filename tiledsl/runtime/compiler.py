"""``tiledsl.compile``: a PrimFunc -> a JITKernel, through the memory cache, the disk cache or a build."""
from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
import threading
from pathlib import Path

import tvm
from tvm import tirx

from .. import config, pass_config
from ..codegen import artifact
from ..codegen.compile import build, entry_name
from ..cache import DiskStore, content_key, environment_stamp
from ..cache.folders import make_private_files
from ..errors import (ArtifactError, CompileError, CompileTimeoutError, SharedMemoryError, TileDSLError,
                      TileProgramError)
from ..passes.global_workspaces import hoist_global_workspaces
from ..passes.split_k import split_k
from ..passes.hopper.device import assumptions as device_assumptions
from .kernel import JITKernel
from .loader import load_kernel
from .params import normalize_out_idx, params_of, plan_outputs
from .target import resolve_target, target_arch, target_kind

logger = logging.getLogger(__name__)

_memory: dict[str, JITKernel] = {}
#: How this process got its kernels: builds, disk-cache hits and memory-cache hits (for tests and profiling).
STATS = {"builds": 0, "disk_hits": 0, "memory_hits": 0}
_memory_lock = threading.Lock()
_scratch_dirs: list[str] = []


def kernel_key(func: tirx.PrimFunc, target: tvm.target.Target, out_idx: list[int], pass_configs, compile_flags) -> str:
    """The content key of a kernel: the program text and everything else that changes the binary."""
    return content_key({
        "program": func.script(show_meta=True),
        "target": str(target),
        "out_idx": out_idx,
        "pass_configs": pass_configs or {},
        "compile_flags": compile_flags or [],
        "env": environment_stamp(target_kind(target)),
        # a strict build must fail where a schedule fails, not be served the kernel a lenient build made without it
        "strict_schedules": config.strict_schedules(),
        **lowering_stamp(target),
    })


def lowering_stamp(target: tvm.target.Target) -> dict:
    """The environment switches that change how a program is lowered for ``target``, and the device assumptions:
    part of every kernel key and of every tuning result's key (a config tuned with one set of switches is not the
    answer for another)."""
    cuda = target_kind(target) == "cuda"
    return {
        "split_k": config.split_k(),  # the CPU splits too when a number of parts is asked for
        "split_k_sum": config.split_k_sum() if cuda else None,
        "hopper_specialization": cuda and not config.hopper_specialization_disabled(),
        "tma": cuda and config.tma_lowering_enabled(),
        "warp_specialize": config.warp_specialize_mode() if cuda else None,
        "tma_store": cuda and config.tma_store_enabled(),
        "overlap_transforms": cuda and config.overlap_transforms_enabled(),
        "fast_int8_cast": cuda and config.fast_int8_cast_enabled(),
        "wgmma_more_types": cuda and config.wgmma_more_types_enabled(),
        "mma_int8": cuda and config.mma_int8_enabled(),
        "persistent": config.persistent_grid_ctas() if cuda else None,
        "raster": config.persistent_raster_rows() if cuda else None,
        "fast_exp2": cuda and config.fast_exp2_enabled(),
        # every schedule of config.OPT_IN_SCHEDULES the lowering for this target may run, on or off
        "schedules": {name: config.schedule_enabled(name) for name in config.OPT_IN_SCHEDULES
                      if cuda or name in config.CPU_SCHEDULES},
        "device": device_assumptions(target),  # e.g. the SM count a persistent Hopper kernel is built for
    }


def kernel_store() -> DiskStore:
    """The disk store of compiled kernels."""
    return DiskStore("kernels")


def compile(func, out_idx=None, target="auto", pass_configs: dict | None = None, compile_flags=None,
            target_host=None, execution_backend=None, verbose: bool = False) -> JITKernel:
    """Compile a PrimFunc (from ``@T.prim_func``) for ``target`` and return a callable JITKernel.

    ``out_idx`` names the parameters allocated and returned by each call; ``pass_configs`` go to TVM's
    PassContext, except TileLang's ``tl.*`` keys (``tiledsl.PassConfigKey``, see ``tiledsl/pass_config.py``);
    ``compile_flags`` are extra nvcc flags for CUDA. ``target_host``, ``execution_backend`` and
    ``verbose`` are accepted for TileLang compatibility (the host is always LLVM and the backend tvm-ffi).
    """
    if not isinstance(func, tirx.PrimFunc):
        raise CompileError(f"tiledsl.compile expects a PrimFunc (a function decorated with @T.prim_func), got "
                           f"{type(func).__name__}")
    tgt = resolve_target(target)
    outs = normalize_out_idx(out_idx, len(func.params))  # the user's indices, before workspaces are appended
    flags = list(compile_flags) if isinstance(compile_flags, (list, tuple)) else (
        [compile_flags] if compile_flags else [])
    pass_configs = pass_config.normalize(pass_configs)  # PassConfigKey members as their "tl.*" names
    split = split_k(func, target_kind(tgt), target_arch(tgt))  # TILEDSL_SPLIT_K (auto: few-block CUDA grids)
    if split is func:
        return _compile_as(func, tgt, outs, pass_configs, flags)
    try:
        return _compile_as(split, tgt, outs, pass_configs, flags)
    except (CompileError, TileProgramError) as err:
        if config.strict_schedules() or isinstance(err, (CompileTimeoutError, SharedMemoryError)):
            raise  # a time limit or tiles too large for shared memory: the same as written
        # the split program is a rewrite the user did not write: one it cannot build leaves the program as written
        logger.debug("the split-K form of %s does not build (%s); building it as written", entry_name(func), err)
        return _compile_as(func, tgt, outs, pass_configs, flags)


def _compile_as(func, tgt, outs, pass_configs, flags) -> JITKernel:
    """``func`` (as the front end built it, or split) through the memory cache, the disk cache or a build."""
    func, workspaces = hoist_global_workspaces(func)
    params = params_of(func, workspaces)
    plan_outputs(params, outs)  # reject impossible out_idx before building
    key = kernel_key(func, tgt, outs, pass_configs, flags)
    with _memory_lock:
        hit = _memory.get(key)
    if hit is not None:
        STATS["memory_hits"] += 1
        return hit
    kernel = _from_disk(key, func) if not config.disk_cache_disabled() else None
    if kernel is None:
        kernel = _build(key, func, tgt, params, outs, pass_configs, flags)
        STATS["builds"] += 1
    else:
        STATS["disk_hits"] += 1
    with _memory_lock:
        return _memory.setdefault(key, kernel)


def _from_disk(key: str, func) -> JITKernel | None:
    store = kernel_store()
    folder = store.get(key)
    if folder is None:
        return None
    try:
        return load_kernel(folder, prim_func=func)  # verifies every file's sha256 before loading the library
    except ArtifactError as err:  # a damaged or foreign-format entry is a miss: rebuild it
        reason = str(err)
    except TileDSLError:
        raise
    except Exception as err:  # a verified library that still does not load (a missing system library, say)
        reason = f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"
    logger.warning("rebuilding the kernel: its cache entry %s cannot be used: %s", folder, reason)
    store.remove(key)
    return None


def _build(key, func, tgt, params, outs, pass_configs, flags) -> JITKernel:
    result = build(func, tgt, pass_configs, flags)
    meta = artifact.ArtifactMeta(entry=entry_name(func), target=str(tgt), target_kind=target_kind(tgt),
                                 params=[p.to_json() for p in params], out_idx=outs,
                                 kernel_info=result.kernel_info)

    def write(folder: Path) -> None:
        artifact.write_artifact(folder, result, meta)

    if config.disk_cache_disabled():
        folder = Path(tempfile.mkdtemp(prefix="kernel-", dir=config.tmp_dir()))
        _scratch_dirs.append(str(folder))
        write(folder)
        make_private_files(folder)
    else:
        folder = kernel_store().put(key, write)
    return load_kernel(folder, prim_func=func)


@atexit.register
def _remove_scratch() -> None:
    for d in _scratch_dirs:
        shutil.rmtree(d, ignore_errors=True)


def clear_memory_cache() -> None:
    """Forget every kernel compiled in this process (the disk cache stays)."""
    with _memory_lock:
        _memory.clear()
