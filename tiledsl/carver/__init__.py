"""``tilelang.carver``: hardware-aware tile-configuration recommendation (TileLang's Roller).

Implemented: ``arch.CUDA`` (a GPU's limits, from the visible GPU or a table of known architectures) and
``template.MatmulTemplate`` with ``recommend_hints`` (a Roller-style planner, ``roller.matmul_policy``). The other
names (``CDNA``, the GEMV / elementwise / reduction / attention / convolution templates) import, so programs that
only mention them run; constructing one raises :class:`tiledsl.ConfigError`.
"""
from __future__ import annotations

from ..errors import ConfigError


class _NotImplemented:
    """Base of the carver names tiledsl does not implement: constructing one raises ConfigError."""

    def __init__(self, *args, **kwargs):
        raise ConfigError(f"tilelang.carver.{type(self).__name__} is not implemented in tiledsl (only "
                          f"arch.CUDA and template.MatmulTemplate are); pass explicit configs= to the autotuner")


def _name(name: str) -> type:
    return type(name, (_NotImplemented,), {"__doc__": f"TileLang's carver {name}: not implemented (raises)."})
