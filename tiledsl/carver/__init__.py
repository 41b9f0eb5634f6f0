"""``tilelang.carver`` (Roller: hardware-aware tile-config recommendation) is not implemented in tiledsl.

Its names import, so programs that only mention it (an optional ``with_roller=True`` path) run; creating any of
them raises :class:`tiledsl.ConfigError` saying so. Tune with explicit ``configs=`` instead.
"""
from __future__ import annotations

from ..errors import ConfigError


class _NotImplemented:
    """Base of the carver names: constructing one raises ConfigError."""

    def __init__(self, *args, **kwargs):
        raise ConfigError(f"tilelang.carver.{type(self).__name__}: Roller (hardware-aware config recommendation) is "
                          f"not implemented in tiledsl; pass explicit configs= to the autotuner instead")


def _name(name: str) -> type:
    return type(name, (_NotImplemented,), {"__doc__": f"TileLang's carver {name}: not implemented (raises)."})
