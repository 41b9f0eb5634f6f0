"""CPU stand-in for ``fla`` (flash-linear-attention; see ../README.md)."""
