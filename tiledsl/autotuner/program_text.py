"""Elaborated tile programs on their way to a builder worker: the PrimFunc's TVMScript text, parsed back there.

The tuning process calls the factory (``get_tir``) and sends the program, not the factory, so a builder never needs
the factory's source file (cloudpickle 3.1.3 names the code of functions it pickles by value ``<dynamic-code>``,
and TVMScript re-parsing a factory in another process then fails). TVM 0.27's JSON serializer crashes on IR nodes
(``tvm.ir.save_json`` of an ``IntImm`` is a segfault), so the text form is TVMScript. The printer writes our tile
ops as ``T.tiledsl.<op>(...)``; :func:`from_text` parses with a ``T`` that knows them. :func:`to_text` parses its
own text back and returns None unless the result is structurally equal to the original and prints identically
(so the kernel cache key, which hashes the printed program, is the same on both sides).
"""
from __future__ import annotations

import logging
import types

logger = logging.getLogger(__name__)


class _TileScriptNamespace(types.ModuleType):
    """TVM's TIR parser namespace (``T``) plus ``T.tiledsl.<op>`` for tiledsl's tile ops."""

    def __init__(self):
        super().__init__("tiledsl_tir_parser")
        from tvm.script.parser import tirx as parser

        from ..ir.ops import TILE_OPS, make_tile_call

        self._parser = parser
        self.tiledsl = types.SimpleNamespace(**{
            name: (lambda op_name: lambda *args: make_tile_call(op_name, args))(name) for name in TILE_OPS})

    def __getattr__(self, name):
        return getattr(self._parser, name)


def _parse_globals() -> dict:
    from tvm.script.parser.core.entry import _default_globals

    names = dict(_default_globals())
    names["T"] = names["tir"] = _TileScriptNamespace()
    return names


def from_text(text: str):
    """The PrimFunc printed as ``text`` by :func:`to_text`."""
    import tvm

    return tvm.script.from_source(text, extra_vars=_parse_globals())


def to_text(prim_func) -> str | None:
    """``prim_func`` as TVMScript text that parses back to an equal program, or None when it does not."""
    import tvm_ffi

    text = prim_func.script(show_meta=True)
    try:
        back = from_text(text)
    except Exception as err:  # a construct the parser does not take back
        logger.debug("the program does not parse back from its script (%s: %s)", type(err).__name__, err)
        return None
    if not tvm_ffi.structural.structural_equal(prim_func, back, map_free_vars=False):
        logger.debug("the program parsed back from its script differs from the original")
        return None
    if back.script(show_meta=True) != text:
        logger.debug("the program parsed back from its script prints differently")
        return None
    return text
