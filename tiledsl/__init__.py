"""tiledsl: a tile-level kernel language compiled through Apache TVM to CUDA and the CPU, with an autotuner.

Public API only; importing it compiles nothing.
"""
__version__ = "0.1.0"

from .errors import (AutotuneError, CompileError, CompileTimeoutError, ConfigError, KernelArgumentError,  # noqa
                     TargetError, TileDSLError, TileProgramError)
from .runtime.compiler import clear_memory_cache, compile  # noqa: F401
from .runtime.jit import JITImpl, jit  # noqa: F401
from .runtime.kernel import JITKernel  # noqa: F401
from .runtime.params import KernelParam  # noqa: F401
from .autotuner import AutoTuner, AutotuneResult, autotune, set_autotune_inputs  # noqa: F401
from .profiler import TensorSupplyType, do_bench  # noqa: F401
from .pass_config import PassConfigKey  # noqa: F401
from .language.dtypes import dtype as DataType  # noqa: F401,N812 - TileLang's tilelang.DataType
from . import language, transform, utils  # noqa: F401,E402
import tvm  # noqa: E402,F401 - ``from tilelang import tvm`` in TileLang programs


def cdiv(a, b):
    """Ceiling division of two ints (``T.ceildiv`` for expressions)."""
    if isinstance(a, int) and isinstance(b, int):
        return -(-a // b)
    return language.ceildiv(a, b)


__all__ = [
    "__version__", "jit", "compile", "JITKernel", "JITImpl", "KernelParam", "clear_memory_cache",
    "TileDSLError", "TileProgramError", "CompileError", "CompileTimeoutError", "KernelArgumentError",
    "TargetError", "ConfigError", "AutotuneError",
    "autotune", "AutoTuner", "AutotuneResult", "set_autotune_inputs", "TensorSupplyType", "do_bench",
    "PassConfigKey", "cdiv", "DataType", "language", "utils", "transform",
]
