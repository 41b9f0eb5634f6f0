"""``tilelang.carver.template``: importable; constructing a template raises ConfigError (see the package doc)."""
from . import _name

MatmulTemplate = _name("MatmulTemplate")
GEMVTemplate = _name("GEMVTemplate")
ElementwiseTemplate = _name("ElementwiseTemplate")
GeneralReductionTemplate = _name("GeneralReductionTemplate")
FlashAttentionTemplate = _name("FlashAttentionTemplate")
ConvTemplate = _name("ConvTemplate")
