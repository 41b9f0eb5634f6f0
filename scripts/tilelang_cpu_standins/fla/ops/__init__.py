"""CPU stand-in for ``fla.ops``."""
