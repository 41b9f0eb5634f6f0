"""``tilelang.carver.roller.hint.Hint``: one recommended tile configuration."""
from __future__ import annotations

from .rasterization import NoRasterization


class Hint:
    """A configuration: ``block`` (tile M, N), ``warp`` (one warp's M, N), ``rstep`` ([tile K]),
    ``pipeline_stage``, ``use_async``, ``use_tc``, ``rasterization_plan``, and the planner's estimates
    (``grid_size``, ``num_wave``, ``block_per_SM``, ``smem_cost``, ``traffic``)."""

    def __init__(self):
        self.arch = None
        self.use_tc = True
        self.block, self.warp, self.rstep = [], [], []
        self.pipeline_stage = 1
        self.use_async = False
        self.rasterization_plan = NoRasterization()
        self.grid_size = self.num_wave = self.block_per_SM = self.smem_cost = self.traffic = -1

    @property
    def threads(self) -> int:
        """Threads per block: one warp per warp tile."""
        return (self.block[0] // self.warp[0]) * (self.block[1] // self.warp[1]) * 32

    def to_dict(self) -> dict:
        """The tile parameters as a dict (TileLang's keys)."""
        return {"block": list(self.block), "warp": list(self.warp), "rstep": list(self.rstep),
                "pipeline_stage": self.pipeline_stage, "use_async": self.use_async, "use_tc": self.use_tc,
                "rasterization_plan": repr(self.rasterization_plan)}

    def __repr__(self):
        return f"Hint({self.to_dict()})"
