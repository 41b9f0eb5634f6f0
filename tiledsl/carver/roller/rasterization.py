"""``tilelang.carver.roller.rasterization``: importable; creating a rasterization raises ConfigError."""
from .. import _name

NoRasterization = _name("NoRasterization")
Rasterization2DRow = _name("Rasterization2DRow")
Rasterization2DColumn = _name("Rasterization2DColumn")
