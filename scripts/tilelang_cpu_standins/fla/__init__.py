"""CPU stand-in for ``fla`` (flash-linear-attention; see ../README.md)."""

# The stand-in's modules are laid out as fla's are from release 0.2.1 on (``fla.ops.utils``); examples that pick
# their imports by version read this.
__version__ = "0.2.1"
