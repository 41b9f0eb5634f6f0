"""Tuning for real workloads (issue 10; docs/autotuner.md, "Tuning for real workloads"):

* shape buckets (``@tiledsl.autotune(..., key=[...], bucket={"M": next_power_of_2})`` or ``key_fn=``),
* shipped config files (``python -m tiledsl.tune module:factory --shapes s.json --out DIR``, read back with
  ``configs_dir=DIR`` or ``TILEDSL_TUNED_CONFIGS``),
* an on/off switch (``enable_autotune``, ``disable_autotune``, ``is_autotune_enabled``, ``TILEDSL_AUTOTUNE``)
  with ``default_config``, and ``warmup``,
* function-level tuning (``tiledsl.tune.autotune(config_space=, key_fn=, prune_fn=)``),
* ``TILEDSL_PRINT_AUTOTUNING=1`` tables.
"""
from .buckets import next_power_of_2
from .function_tuner import FunctionTuner, autotune
from .offline import tune_shapes, warmup
from .switch import disable_autotune, enable_autotune, is_autotune_enabled, reset_autotune_switch

__all__ = ["next_power_of_2", "autotune", "FunctionTuner", "tune_shapes", "warmup", "enable_autotune",
           "disable_autotune", "is_autotune_enabled", "reset_autotune_switch"]
