"""Build a lowered CUDA module: TVM's pipeline and CUDA code generator, then our nvcc.

On a GPU machine TVM builds its CUDA runtime module through the global callback ``tvm_callback_cuda_compile``;
we register ours (override=True) so that module's binary comes from :mod:`tiledsl.codegen.nvcc` (our flags, our
timeout, our cubin cache). On a machine without a GPU TVM's codegen returns a source-only module and never calls
the callback, so :func:`build_cuda` runs nvcc on the generated source itself: a program that does not build fails
here too, and the cubin is kept (``BuildResult.cubin``) for the artifact folder.
"""
from __future__ import annotations

import logging
import threading

import tvm
import tvm_ffi

from .. import config
from ..errors import CompileError
from ..passes.pass_errors import keep_tiledsl_errors, take_pending_error
from ..runtime.target import target_arch
from . import nvcc

logger = logging.getLogger(__name__)
_state = threading.local()


def _current_arch() -> str:
    arch = getattr(_state, "arch", None)
    if arch:
        return arch
    from ..runtime.target import current_arch, gpu_arch

    if current_arch():
        return current_arch()

    arch = gpu_arch()
    if not arch:
        raise CompileError("tvm_callback_cuda_compile: no CUDA arch known (no target and no GPU)")
    return arch


@tvm_ffi.register_global_func("tvm_callback_cuda_compile", override=True)
@keep_tiledsl_errors
def tvm_callback_cuda_compile(code, *_unused):
    """TVM's hook for turning CUDA source into a binary: our nvcc, cached (returns cubin bytes); TVM's NVRTC path
    when this machine has no nvcc."""
    if config.nvcc_path() is None:
        from tvm.support import nvcc as tvm_nvcc

        logger.warning("nvcc not found: building the CUDA module with NVRTC")
        return tvm_nvcc.compile_cuda(code, target_format="cubin", arch=_current_arch(), compiler="nvrtc")
    built = nvcc.build_cubin(code, _current_arch(), getattr(_state, "flags", ()))
    _state.from_callback = (code, built)  # build_cuda reuses it (no second nvcc run when the cache is off)
    return bytearray(built.binary)


def _required_arch(target: tvm.target.Target) -> str:
    """The ``sm_XX`` arch of a CUDA target (a CUDA target without one is refused)."""
    arch = target_arch(target)
    if not arch:
        raise CompileError(f"CUDA target {target} has no arch")
    return arch


def device_source(executable) -> str:
    """The CUDA source inside a TVM executable built for CUDA."""
    for module in _all_modules(executable.mod):
        if module.kind == "cuda":
            return module.inspect_source()
    raise CompileError("the built module holds no CUDA device code (did the kernel launch any threads?)")


def _all_modules(module):
    yield module
    for sub in module.imports:
        yield from _all_modules(sub)


def build_cuda(lowered: tvm.IRModule, target: tvm.target.Target, compile_flags=None, tir_pipeline: str = "default"):
    """Build ``lowered`` for ``target`` with TVM's ``tir_pipeline``: returns ``(executable, source)``; the cubin is
    in ``last_cubin()``."""
    arch = _required_arch(target)
    flags = [str(f) for f in (compile_flags or [])]
    _state.arch, _state.flags = arch, flags
    take_pending_error()
    _state.from_callback = None
    try:
        with target:
            try:
                executable = tvm.compile(lowered, target=target, tir_pipeline=tir_pipeline)
            except Exception:
                pending = take_pending_error()  # our nvcc error, not TVM's wrapping of it
                if pending is not None:
                    raise pending from None
                raise
        source = device_source(executable)
        if config.nvcc_path() is None:
            logger.warning("nvcc not found: the CUDA source of %s was generated but not compiled", arch)
            _state.cubin, _state.resources = None, {}
        else:
            done = getattr(_state, "from_callback", None)
            built = done[1] if done is not None and done[0] == source else nvcc.build_cubin(source, arch, flags)
            _state.cubin, _state.resources = built.binary, built.resources
    finally:
        _state.arch, _state.flags = None, ()
    return executable, source


def last_cubin() -> bytes | None:
    """The cubin of the last :func:`build_cuda` in this thread (None before any)."""
    return getattr(_state, "cubin", None)


def last_resources() -> dict:
    """Each kernel's registers and spilled bytes in the cubin of the last :func:`build_cuda` in this thread
    (``nvcc.CubinBuild.resources``; {} before any or without nvcc)."""
    return getattr(_state, "resources", {})
