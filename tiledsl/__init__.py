"""tiledsl: a tile-level kernel language compiled through Apache TVM to CUDA and the CPU, with an autotuner.

Public API only; importing it compiles nothing.
"""
__version__ = "0.1.0"

from .errors import (ArtifactError, AutotuneError, CacheFolderError, CompileError, CompileTimeoutError,  # noqa
                     ConfigError, KernelArgumentError, SharedMemoryError, TargetError, TileDSLError,
                     TileProgramError)
from .runtime.compiler import clear_memory_cache, compile  # noqa: F401
from .runtime.jit import JITImpl, jit  # noqa: F401
from .runtime.kernel import JITKernel  # noqa: F401
from .runtime.params import KernelParam  # noqa: F401
from .autotuner import AutoTuner, AutotuneResult, autotune, contextual_autotune, set_autotune_inputs  # noqa: F401
from .profiler import TensorSupplyType, do_bench  # noqa: F401
from .pass_config import PassConfigKey  # noqa: F401
from . import tune  # noqa: F401  (tiledsl.tune.next_power_of_2, tiledsl.tune.autotune, python -m tiledsl.tune)
from .tune import disable_autotune, enable_autotune, is_autotune_enabled, warmup  # noqa: F401
from .language.dtypes import dtype as DataType  # noqa: F401,N812 - TileLang's tilelang.DataType
from . import language, math, transform, utils  # noqa: F401,E402
from .tvm_compat import tvm  # noqa: E402,F401 - ``from tilelang import tvm`` (with tvm.testing's markers)


def disable_cache() -> None:
    """No disk cache for kernels or tunings from now on, in this process and the ones it starts (TileLang's
    ``tilelang.disable_cache``; the same as ``TILEDSL_DISABLE_CACHE=1``)."""
    import os
    os.environ["TILEDSL_DISABLE_CACHE"] = "1"


def enable_cache() -> None:
    """Use the disk cache again (undoes :func:`disable_cache`)."""
    import os
    os.environ["TILEDSL_DISABLE_CACHE"] = "0"


def is_cache_enabled() -> bool:
    """Whether compiled kernels are read from and written to the disk cache."""
    from . import config
    return not config.disk_cache_disabled()


def set_log_level(level) -> None:
    """Set the level of tiledsl's logger: a name (``"DEBUG"``, ``"INFO"``, ...) or a ``logging`` level number."""
    import logging

    if isinstance(level, str):
        named = logging.getLevelName(level.upper())
        if not isinstance(named, int):
            raise ValueError(f"set_log_level: unknown level {level!r}; use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        level = named
    logging.getLogger("tiledsl").setLevel(level)


def cdiv(a, b):
    """Ceiling division of two ints (``T.ceildiv`` for expressions)."""
    if isinstance(a, int) and isinstance(b, int):
        return -(-a // b)
    return language.ceildiv(a, b)


__all__ = [
    "__version__", "jit", "compile", "JITKernel", "JITImpl", "KernelParam", "clear_memory_cache",
    "TileDSLError", "TileProgramError", "SharedMemoryError", "CompileError", "CompileTimeoutError", "KernelArgumentError",
    "TargetError", "ConfigError", "AutotuneError", "ArtifactError", "CacheFolderError",
    "autotune", "contextual_autotune", "AutoTuner", "AutotuneResult", "set_autotune_inputs", "TensorSupplyType",
    "do_bench", "PassConfigKey", "tune", "enable_autotune", "disable_autotune", "is_autotune_enabled", "warmup",
    "cdiv", "DataType", "language", "math", "utils", "transform", "set_log_level", "disable_cache", "enable_cache", "is_cache_enabled",
]
