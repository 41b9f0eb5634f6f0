"""``@tiledsl.jit``: a kernel factory whose calls return compiled kernels, cached by their arguments."""
from __future__ import annotations

import functools
import inspect
import threading

import tvm
from tvm import tirx

from ..errors import TileProgramError
from .compiler import compile as compile_prim_func
from .kernel import JITKernel


def _call_key(args, kwargs):
    key = (args, tuple(sorted(kwargs.items())))
    try:
        hash(key)
        return key
    except TypeError:
        return repr(key)


def elaborate(func, args, kwargs) -> tirx.PrimFunc:
    """Call a kernel factory and return its PrimFunc, turning parser diagnostics into TileProgramError."""
    try:
        prim = func(*args, **kwargs)
    except tvm.error.DiagnosticError as err:
        raise TileProgramError(str(err).removeprefix("error: ").strip()) from None
    if not isinstance(prim, tirx.PrimFunc):
        raise TileProgramError(f"kernel factory {func.__name__} returned {type(prim).__name__}; it must return the "
                               f"function decorated with @T.prim_func")
    return prim


class JITImpl:
    """A kernel factory wrapped by ``@tiledsl.jit``; ``factory(*args)`` returns a JITKernel."""

    def __init__(self, func, out_idx=None, target="auto", pass_configs=None, compile_flags=None, **ignored):
        functools.update_wrapper(self, func)
        self.func = func
        self.signature = inspect.signature(func)
        self.out_idx = out_idx
        self.target = target
        self.pass_configs = dict(pass_configs or {})
        self.compile_flags = compile_flags
        self._kernels: dict = {}
        self._lock = threading.Lock()

    def __call__(self, *args, **kwargs) -> JITKernel:
        key = _call_key(args, kwargs)
        kernel = self._kernels.get(key)
        if kernel is None:
            kernel = self.compile(*args, **kwargs)
            with self._lock:
                kernel = self._kernels.setdefault(key, kernel)
        return kernel

    def get_tir(self, *args, **kwargs) -> tirx.PrimFunc:
        """The PrimFunc for these factory arguments (nothing is compiled)."""
        return elaborate(self.func, args, kwargs)

    def compile(self, *args, target=None, out_idx=None, pass_configs=None, compile_flags=None, **kwargs) -> JITKernel:
        """Build the kernel for these factory arguments; keyword overrides replace the decorator's options."""
        prim = self.get_tir(*args, **kwargs)
        return compile_prim_func(prim, out_idx=self.out_idx if out_idx is None else out_idx,
                                 target=self.target if target is None else target,
                                 pass_configs=self.pass_configs if pass_configs is None else pass_configs,
                                 compile_flags=self.compile_flags if compile_flags is None else compile_flags)

    def par_compile(self, configs, num_workers: int | None = None, ignore_error: bool = False,
                    timeout: float | None = None) -> list:
        """Compile the factory for each dict in ``configs`` (its keyword arguments) in parallel worker processes,
        each compile limited to ``timeout`` seconds; returns the JITKernels in order. A failed config raises
        CompileError, or gives None with ``ignore_error=True``."""
        from ..autotuner.parallel import par_compile

        return par_compile(self, configs, num_workers=num_workers, ignore_error=ignore_error, timeout=timeout)

    def get_kernel_source(self, *args, **kwargs) -> str:
        """The generated source of the kernel for these factory arguments."""
        return self(*args, **kwargs).get_kernel_source()


def jit(func=None, *, out_idx=None, target="auto", pass_configs=None, compile_flags=None, target_host=None,
        execution_backend=None, verbose=False, debug_root_path=None):
    """Decorate a kernel factory: ``@tiledsl.jit(out_idx=[-1])`` above ``def matmul(M, N, K, ...)`` that returns a
    ``@T.prim_func``. Calling the factory compiles (once per distinct arguments) and returns a JITKernel.

    A function in TileLang's newer style (sizes from ``T.const``, tensors annotated in its body, ``T.empty``
    outputs returned) becomes an :class:`~tiledsl.runtime.eager_jit.EagerJITImpl`: called with tensors it runs
    the kernel and returns the outputs; ``.compile(M=..., ...)`` returns the JITKernel."""
    def wrap(f):
        from ..language.eager_ast import looks_eager

        if looks_eager(f):  # TileLang's newer style: tensors annotated in the body, T.empty outputs returned
            from .eager_jit import EagerJITImpl

            return EagerJITImpl(f, out_idx=out_idx, target=target, pass_configs=pass_configs,
                                compile_flags=compile_flags)
        return JITImpl(f, out_idx=out_idx, target=target, pass_configs=pass_configs, compile_flags=compile_flags)
    return wrap(func) if func is not None else wrap
