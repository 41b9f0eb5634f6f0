"""``tilelang.carver.roller.rasterization``: the order in which a recommended GEMM visits its output tiles."""
from __future__ import annotations


class Rasterization:
    """Base: ``panel_width`` tiles per panel (None: no rasterization)."""

    panel_width_ = None

    @property
    def panel_width(self):
        return self.panel_width_


class NoRasterization(Rasterization):
    """Tiles in launch order."""

    def __repr__(self):
        return "<NoRasterization>"


class Rasterization2DRow(Rasterization):
    """Tiles visited in row panels ``panel_width`` wide (``T.use_swizzle(panel_width)``), for L2 reuse."""

    def __init__(self, panel_width: int = 4):
        self.panel_width_ = panel_width

    def __repr__(self):
        return f"<Rasterization2DRow({self.panel_width_})>"


class Rasterization2DColumn(Rasterization):
    """Tiles visited in column panels ``panel_width`` wide."""

    def __init__(self, panel_width: int = 4):
        self.panel_width_ = panel_width

    def __repr__(self):
        return f"<Rasterization2DColumn({self.panel_width_})>"
