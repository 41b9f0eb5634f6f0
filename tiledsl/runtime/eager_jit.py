"""``@tiledsl.jit`` on a function in TileLang's newer style: call it with tensors, or ``.compile(**sizes)``.

``matmul(a, b, 128, 128, 32)`` reads the sizes off ``a`` and ``b``, compiles once per distinct sizes and
non-tensor arguments, runs the kernel and returns its outputs; later calls with the same shapes and arguments are
one dictionary look-up. ``matmul.compile(M=1024, N=1024, K=1024, block_M=128, ...)`` returns the JITKernel.
The autotuner sees :attr:`EagerJITImpl.func`, a factory ``(**arguments and sizes) -> PrimFunc`` whose signature
lists the sizes as keyword-only parameters, so ``@autotune`` and ``AutoTuner.from_kernel`` treat it like a
classic factory.
"""
from __future__ import annotations

import inspect
import threading

from tvm import tirx

from ..errors import TileProgramError
from ..language.eager import EagerProgram
from .compiler import compile as compile_prim_func
from .jit import JITImpl
from .kernel import JITKernel

_COMPILE_OPTIONS = ("target", "out_idx", "pass_configs", "compile_flags")


class EagerFactory:
    """``factory(*args, **kwargs) -> PrimFunc`` for an eager-style function: tensor arguments may be tensors (their
    shapes give the sizes) or left out (then every size comes as a keyword). Picklable (for build workers)."""

    def __init__(self, func, source=None):
        from ..language.eager_ast import source_of

        self.func = func
        self._source = source if source is not None else source_of(func)
        self.__name__ = func.__name__
        self.__qualname__ = func.__qualname__
        self.__module__ = func.__module__
        self.__doc__ = func.__doc__
        self._program = None
        self._lock = threading.Lock()
        self.__signature__ = self._make_signature()

    @property
    def program(self) -> EagerProgram:
        if self._program is None:
            with self._lock:
                if self._program is None:
                    self._program = EagerProgram(self.func, self._source)
        return self._program

    def _make_signature(self) -> inspect.Signature:
        """The function's own parameters, then the T.const sizes as keyword-only parameters."""
        base = inspect.signature(self.func)
        taken = set(base.parameters)
        sizes = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None)
                 for n in self.program.source.const_names if n not in taken]
        return base.replace(parameters=list(base.parameters.values()) + sizes)

    def __getstate__(self):
        return {"func": self.func, "source": self._source}

    def __setstate__(self, state):
        self.__init__(state["func"], state["source"])

    def split(self, args, kwargs) -> tuple[dict, dict, dict]:
        """(non-tensor arguments, tensors, sizes given as keywords) of a call."""
        src = self.program.source
        sizes = {k: kwargs.pop(k) for k in list(kwargs) if k in src.const_names and k not in src.params}
        params = src.params
        if len(args) > len(params):
            raise TileProgramError(f"{src.name} takes {len(params)} arguments, got {len(args)}")
        bound = dict(zip(params, args))
        for k, v in kwargs.items():
            if k not in params:
                raise TileProgramError(f"{src.name}() got an unexpected keyword argument {k!r}; its parameters are "
                                       f"{params} and its sizes {src.const_names}")
            if k in bound:
                raise TileProgramError(f"{src.name}() got multiple values for argument {k!r}")
            bound[k] = v
        tensors = {t: bound.pop(t, None) for t in src.tensor_params}
        defaults = {n: p.default for n, p in inspect.signature(self.func).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        config = {**defaults, **bound}
        missing = [p for p in params if p not in config and p not in src.tensor_params]
        if missing:
            raise TileProgramError(f"{src.name}() is missing the arguments {missing}")
        return config, tensors, sizes

    def elaborate(self, config: dict, tensors: dict, sizes: dict) -> tuple[tirx.PrimFunc, dict]:
        """The PrimFunc and the sizes used."""
        program = self.program
        sig = program.symbolic_signature(config, _config_key(config))
        values = program.sizes(sig, {k: v for k, v in tensors.items() if v is not None}, sizes)
        return program.build(config, values), values

    def __call__(self, *args, **kwargs) -> tirx.PrimFunc:
        config, tensors, sizes = self.split(args, dict(kwargs))
        return self.elaborate(config, tensors, sizes)[0]


def _config_key(config: dict):
    try:
        key = tuple(sorted(config.items()))
        hash(key)
        return key
    except TypeError:
        return repr(sorted(config.items(), key=lambda kv: kv[0]))


class EagerJITImpl(JITImpl):
    """``@tiledsl.jit`` on an eager-style function (see the module doc)."""

    def __init__(self, func, out_idx=None, target="auto", pass_configs=None, compile_flags=None, **ignored):
        factory = EagerFactory(func)
        n_out = len(factory.program.source.outputs)
        if out_idx is not None:
            raise TileProgramError(f"{func.__name__}: out_idx is decided by the T.empty outputs it returns; drop "
                                   f"out_idx= from @tiledsl.jit")
        super().__init__(factory, out_idx=list(range(-n_out, 0)) if n_out else None, target=target,
                         pass_configs=pass_configs, compile_flags=compile_flags)
        self.__wrapped__ = func
        src = factory.program.source
        self._is_tensor = tuple(p in src.tensor_params for p in src.params)
        self._tensor_names = frozenset(src.tensor_params)
        self._n_params = len(src.params)
        self._launch: dict = {}

    def __call__(self, *args, **kwargs):
        """Run the kernel on these tensors (compiling it for their sizes the first time); returns the outputs."""
        key = None
        if not kwargs or self._tensor_names.isdisjoint(kwargs):  # the hot path: one tuple, one dict look-up
            try:
                key = (tuple([(a.shape, a.dtype) if t else a for a, t in zip(args, self._is_tensor)]),
                       tuple(sorted(kwargs.items())) if kwargs else ())
                hit = self._launch.get(key)
            except (TypeError, AttributeError):  # an unhashable argument, or a tensor argument that is not a tensor
                key = hit = None
            if hit is not None:
                return hit(*[a for a, t in zip(args, self._is_tensor) if t])
        config, tensors, sizes = self.func.split(args, dict(kwargs))
        absent = [n for n, t in tensors.items() if t is None]
        if absent:
            raise TileProgramError(f"{self.__name__}: calling it runs the kernel and needs its tensors {absent}; "
                                   f"to build without tensors use {self.__name__}.compile(<sizes>=..., ...)")
        kernel = self._kernel(config, tensors, sizes)
        if key is not None:
            with self._lock:
                self._launch[key] = kernel
        return kernel(*[tensors[t] for t in self.func.program.source.tensor_params])

    def without_tensors(self, args, kwargs) -> tuple[dict, list]:
        """A call's arguments with its tensors replaced by the sizes read off them (what a tuner keys and builds
        on), and the tensors in parameter order (what the tuned kernel runs on)."""
        config, tensors, sizes = self.func.split(args, dict(kwargs))
        given = {k: v for k, v in tensors.items() if v is not None}
        if given:
            sig = self.func.program.symbolic_signature(config, _config_key(config))
            sizes = {**self.func.program.sizes(sig, given, sizes), **sizes}
        ordered = [tensors[t] for t in self.func.program.source.tensor_params if tensors[t] is not None]
        src = self.func.program.source
        explicit = set(kwargs) | {p for p, _ in zip(src.params, args)}
        return {**{k: v for k, v in config.items() if k in explicit}, **sizes}, ordered

    def _kernel(self, config, tensors, sizes, **options) -> JITKernel:
        prim, values = self.func.elaborate(config, tensors, sizes)
        key = (_config_key(config), tuple(sorted(values.items())), tuple(sorted(options.items())))
        try:
            hash(key)
        except TypeError:
            key = repr(key)
        kernel = self._kernels.get(key)
        if kernel is None:
            kernel = compile_prim_func(
                prim, out_idx=options.get("out_idx") or self.out_idx,
                target=options.get("target") or self.target,
                pass_configs=options.get("pass_configs") if options.get("pass_configs") is not None
                else self.pass_configs,
                compile_flags=options.get("compile_flags") if options.get("compile_flags") is not None
                else self.compile_flags)
            with self._lock:
                kernel = self._kernels.setdefault(key, kernel)
        return kernel

    def compile(self, *args, **kwargs) -> JITKernel:
        """Build the kernel for these arguments and sizes (``M=1024, ...``); tensors may be given or left out.
        ``target``, ``pass_configs`` and ``compile_flags`` override the decorator's."""
        options = {k: kwargs.pop(k) for k in _COMPILE_OPTIONS if k in kwargs
                   and k not in self.func.program.source.params}
        options.pop("out_idx", None)
        config, tensors, sizes = self.func.split(args, kwargs)
        return self._kernel(config, tensors, sizes, **options)

    def get_tir(self, *args, **kwargs) -> tirx.PrimFunc:
        """The PrimFunc for these arguments and sizes (nothing is compiled)."""
        return self.func(*args, **kwargs)

    def get_kernel_source(self, *args, **kwargs) -> str:
        """The generated source of the kernel for these arguments and sizes."""
        return self.compile(*args, **kwargs).get_kernel_source()

    def get_profiler(self, *args, tensor_supply_type=None, **kwargs):
        """A profiler of the kernel for these arguments and sizes."""
        return self.compile(*args, **kwargs).get_profiler(tensor_supply_type)
