"""Search strategies: which configs to try next.

A strategy is asked for configs (``propose``), told what happened (``observe``) and says when it is done. Only
``Exhaustive`` exists today (the spaces people write by hand are tens to a few hundred configs); a sampling or
model-guided strategy plugs in through the same interface.
"""
from __future__ import annotations


class SearchStrategy:
    """Interface: ``propose(n)`` returns up to ``n`` configs not proposed before ([] when done)."""

    def __init__(self, configs: list[dict]):
        self.configs = list(configs)

    def propose(self, n: int) -> list[dict]:
        raise NotImplementedError

    def observe(self, config: dict, trial) -> None:
        """Feedback for adaptive strategies; exhaustive search ignores it."""


class Exhaustive(SearchStrategy):
    """Every config, in the given order."""

    def __init__(self, configs: list[dict]):
        super().__init__(configs)
        self._next = 0

    def propose(self, n: int) -> list[dict]:
        batch = self.configs[self._next:self._next + n]
        self._next += len(batch)
        return batch


STRATEGIES = {"exhaustive": Exhaustive}


def make_strategy(name: str, configs: list[dict]) -> SearchStrategy:
    from ..errors import ConfigError

    try:
        return STRATEGIES[name](configs)
    except KeyError:
        raise ConfigError(f"search strategy {name!r} is unknown; known: {sorted(STRATEGIES)}") from None
