"""The autotuner: ``@autotune``, ``AutoTuner``, ``AutotuneResult``, ``set_autotune_inputs``.

Parts (one job each): ``space`` (configs, validation, pruning), ``search`` (strategies), ``builder`` (parallel
compiles in worker processes with hard timeouts), ``runner`` (a benchmark worker per device, restarted after a
hang or crash), ``checker`` (correctness), ``records`` (the append-only trial log), ``result`` (AutotuneResult and
its folder format), ``tuner`` (orchestration), ``decorator`` (``@autotune``). See docs/autotuner.md.
"""
from ..profiler.supply import TensorSupplyType
from .capture import get_autotune_inputs, set_autotune_inputs
from .contextual import contextual_autotune
from .decorator import AutotuneImpl, autotune
from .records import Trial
from .result import AutotuneResult
from .tuner import AutoTuner, CompileArgs, ProfileArgs

__all__ = ["autotune", "contextual_autotune", "AutotuneImpl", "AutoTuner", "AutotuneResult", "CompileArgs", "ProfileArgs", "Trial",
           "TensorSupplyType", "set_autotune_inputs", "get_autotune_inputs"]
