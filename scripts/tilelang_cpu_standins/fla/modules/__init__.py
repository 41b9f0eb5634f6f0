"""CPU stand-in for ``fla.modules``."""
