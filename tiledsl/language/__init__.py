"""``import tiledsl.language as T``: the tile language.

Everything TVMScript's ``tirx`` namespace offers (``T.prim_func``, ``T.float32``, ``T.exp``, ``T.if_then_else``,
``T.serial``, ``T.unroll``, ``T.ceildiv``, ...) plus TileLang's tile-level names: ``T.Tensor``, ``T.Kernel``,
``T.alloc_shared`` / ``alloc_fragment`` / ``alloc_local``, ``T.copy``, ``T.gemm``, ``T.fill`` / ``T.clear``,
``T.Parallel``, ``T.Pipelined``, ``T.reduce_*``, ``T.atomic_add``, ``T.dynamic`` / ``T.symbolic``,
``T.get_thread_binding``, ``T.use_swizzle``, ``T.annotate_layout`` (swizzle hints from ``tiledsl.layout``), the warp
shuffles ``T.shfl_xor`` / ``shfl_down`` / ``shfl_up`` / ``shfl_sync``.

Building a program never compiles it: ``tiledsl.jit`` / ``tiledsl.compile`` do that.
"""
from tvm.script import tirx as _tirx_script

globals().update({name: getattr(_tirx_script, name) for name in dir(_tirx_script) if not name.startswith("_")})

from .dtypes import dtype, make_dtype_namespace  # noqa: E402

globals().update(make_dtype_namespace())  # T.float16, T.float, ... as dtype objects (strings that also construct)

from .buffers import (Buffer, FragmentBuffer, LocalBuffer, SharedBuffer, Tensor, alloc_fragment,  # noqa: E402
                      alloc_local, alloc_shared, dtype_str, dynamic, symbolic)
from .compat import (Serial, Unroll, Vectorized, alloc_global, alloc_var, disable_warp_group_reg_alloc,  # noqa: E402
                     clamp, no_set_max_nreg, reinterpret, set_max_nreg, sync_threads, unsupported_names)

globals().update({k: v for k, v in unsupported_names().items() if k not in globals()})
from .grid_sync import sync_grid  # noqa: E402
from .kernel import (Kernel, get_block_binding, get_block_bindings, get_thread_binding,  # noqa: E402
                     get_thread_bindings)
from ..layout import Layout, annotate_layout  # noqa: E402
from .loops import Parallel, Persistent, Pipelined  # noqa: E402
from .eager import const, empty  # noqa: E402
from .im2col import im2col  # noqa: E402
from .views import reshape, view  # noqa: E402
from .warp import shfl_down, shfl_sync, shfl_up, shfl_xor  # noqa: E402
from .pointers import make_tensor, ptr  # noqa: E402
from .reducer import alloc_reducer, finalize_reducer, reducer_init, reducer_update  # noqa: E402
from .tile_ops import (GemmWarpPolicy, atomic_add, cast, clear, copy, fill, gemm, reduce_absmax, reduce_abssum,  # noqa: E402
                       reduce_max, reduce_min, reduce_sum, use_swizzle)

prim_func = _tirx_script.prim_func  # must stay TVMScript's own decorator: the parser looks for it

__all__ = [
    "prim_func", "Tensor", "Buffer", "Kernel", "alloc_shared", "alloc_fragment", "alloc_local", "alloc_var",
    "copy", "gemm", "fill", "clear", "Parallel", "Pipelined", "reduce_sum", "reduce_max", "reduce_min",
    "reduce_abssum", "reduce_absmax", "atomic_add", "dynamic", "symbolic", "get_thread_binding",
    "get_thread_bindings", "GemmWarpPolicy", "get_block_binding", "get_block_bindings", "use_swizzle", "cast", "dtype_str",
    "annotate_layout", "SharedBuffer", "FragmentBuffer", "LocalBuffer", "const", "empty", "dtype",
    "Serial", "Unroll", "Vectorized", "alloc_global", "Persistent", "im2col", "make_tensor", "ptr", "clamp", "sync_threads",
    "reshape", "view", "sync_grid", "alloc_reducer", "finalize_reducer", "reducer_init", "reducer_update",
    "shfl_xor", "shfl_down", "shfl_up", "shfl_sync",
]
