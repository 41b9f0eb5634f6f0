"""TileLang names that tiledsl spells differently, and the ones it does not support yet.

``T.Serial``/``T.Unroll``/``T.Vectorized`` are TileLang's capitalized loops; ``T.alloc_var`` is a one-element
per-thread variable that reads as a scalar (``x = x + 1``, ``T.max(x, y)``) and still takes ``x[0]`` and
``T.clear(x)``. Each name in :data:`UNSUPPORTED` raises :class:`TileProgramError` when a program uses it, saying
so at the user's line (the parser reports the line), instead of failing somewhere inside TVM.
"""
from __future__ import annotations

from tvm import tirx
from tvm.ir import TensorLoad
from tvm.script import tirx as _tirx_script
from tvm.script.ir_builder import tirx as _builder

from ..errors import TileProgramError, refusing
from .buffers import constant_shape, dtype_str


def Serial(start, stop=None, step=None, annotations=None):  # noqa: N802 - TileLang's name
    """``for k in T.Serial(n):`` a sequential loop (TVMScript's ``T.serial``)."""
    if stop is None:
        start, stop = 0, start
    if step not in (None, 1):
        raise TileProgramError(f"T.Serial: step={step!r} is not supported yet; scale the loop variable instead")
    return _builder.serial(start, stop, annotations=annotations)


def Unroll(start, stop=None, step=None, explicit: bool = False, unroll_factor=None, annotations=None):  # noqa: N802
    """``for k in T.Unroll(n):`` a loop unrolled by the compiler."""
    if stop is None:
        start, stop = 0, start
    if step not in (None, 1):
        raise TileProgramError(f"T.Unroll: step={step!r} is not supported yet")
    return _builder.unroll(start, stop, annotations=annotations)


def Vectorized(start, stop=None, annotations=None):  # noqa: N802
    """``for k in T.Vectorized(n):`` a vectorized loop."""
    if stop is None:
        start, stop = 0, start
    return _builder.vectorized(start, stop, annotations=annotations)


def alloc_var(dtype, init=None, scope: str = "local"):
    """A per-thread scalar variable: ``x = T.alloc_var(T.float32)`` (optionally ``init=``), then ``x = ...``,
    ``x + 1``, ``x[0]`` and ``T.clear(x)`` all work, as in TileLang."""
    name = dtype_str(dtype)
    buf = _builder.alloc_buffer(constant_shape((1,), "T.alloc_var"), name, scope=scope)
    if init is not None:
        value = tirx.const(init, name) if isinstance(init, (int, float, bool)) else init
        if str(value.ty) != name:
            value = tirx.Cast(name, value)
        _builder.buffer_store(buf, value, [0])
    return _builder.scalar_wrapper(buf[0])


def is_var_load(x) -> bool:
    """True for the scalar read of a ``T.alloc_var`` (a load of element 0 of a one-element local buffer)."""
    if not isinstance(x, TensorLoad) or len(x.indices) != 1:
        return False
    shape = x.source.ty.shape
    return len(shape) == 1 and isinstance(shape[0], tirx.IntImm) and int(shape[0]) == 1


_tensor_load_getitem = getattr(TensorLoad, "__getitem__", None)


def _var_getitem(self, index):
    if is_var_load(self) and (index == 0 or (isinstance(index, tirx.IntImm) and int(index) == 0)):
        return self
    if _tensor_load_getitem is None:
        raise TypeError(f"`{self}` is an element, not a buffer; it cannot be indexed")
    return _tensor_load_getitem(self, index)


if getattr(TensorLoad.__getitem__, "__name__", "") != "_var_getitem":
    TensorLoad.__getitem__ = _var_getitem  # x[0] on a T.alloc_var, as TileLang programs write it


def alloc_global(shape, dtype, scope: str = "global"):
    """A global-memory workspace of the kernel (TileLang's ``T.alloc_global``): shared by all blocks and all
    ``T.Kernel`` launches of one call, of unspecified contents at the start of each call. tiledsl makes it a hidden
    tensor parameter that every call allocates on the call's device (``tiledsl/passes/global_workspaces.py``).
    Its sizes are ints or ``T.dynamic`` sizes of the tensor parameters."""
    if scope != "global":
        raise TileProgramError(f"T.alloc_global: scope={scope!r}; a global workspace has scope 'global' (use "
                               f"T.alloc_shared / T.alloc_fragment for on-chip tiles)")
    if not isinstance(shape, (tuple, list)):
        shape = (shape,)
    dims = []
    for i, s in enumerate(shape):
        if isinstance(s, bool) or not isinstance(s, (int, tirx.IntImm, tirx.Var)):
            raise TileProgramError(f"T.alloc_global: size {i} of the workspace shape {tuple(shape)} is `{s}`; each "
                                   f"size must be an int or a T.dynamic size of a tensor parameter")
        if isinstance(s, (int, tirx.IntImm)) and int(s) <= 0:
            raise TileProgramError(f"T.alloc_global: size {i} of the workspace shape {tuple(shape)} must be positive")
        dims.append(s)
    from . import eager

    header = getattr(eager._state, "ctx", None)  # noqa: SLF001 - the header of a newer-style kernel is running
    if header is not None:
        return header.workspace(tuple(dims), dtype_str(dtype))
    return _builder.alloc_buffer(tuple(dims), dtype_str(dtype), scope="global")


def set_max_nreg(reg_count: int, is_inc: int = 1):
    """TileLang's register reallocation hint for warp-specialized kernels: tiledsl's passes decide register
    budgets themselves, so the hint changes nothing (results are the same either way)."""
    if not isinstance(reg_count, int) or not 24 <= reg_count <= 256:
        raise TileProgramError(f"T.set_max_nreg: reg_count={reg_count!r} must be an int in [24, 256]")
    return None


def no_set_max_nreg():
    """TileLang's switch to keep register budgets unchanged: tiledsl's passes decide them (a no-op here)."""
    return None


def disable_warp_group_reg_alloc():
    """TileLang's switch off for register reallocation: tiledsl's passes decide it (a no-op here)."""
    return None


def clamp(value, min_val, max_val):
    """``value`` limited to ``[min_val, max_val]`` (``T.min(T.max(value, min_val), max_val)``, as TileLang)."""
    return _tirx_script.min(_tirx_script.max(value, min_val), max_val)


def sync_threads(barrier_id=None, arrive_count=None):
    """``T.sync_threads()``: a barrier for all threads of the block (``__syncthreads()`` on CUDA; on the CPU, whose
    threads run one statement after another, the order it asks for holds already). Every thread must reach it, as
    on a GPU: on the CPU one under a branch or loop on the thread index is a TileProgramError."""
    if barrier_id is not None or arrive_count is not None:
        raise TileProgramError("T.sync_threads(barrier_id, arrive_count): named barriers for part of a block are "
                               "not supported by tiledsl yet; T.sync_threads() synchronizes the whole block")
    return tirx.call_intrin("int32", "tirx.tvm_storage_sync", "shared")


def reinterpret(value, dtype, span=None):
    """``T.reinterpret(value, dtype)``: ``value``'s bits read as ``dtype`` (TileLang's order, like ``T.cast``); TVM's
    older order ``T.reinterpret(dtype, value)`` is accepted too."""
    def is_dtype(x):
        return isinstance(x, str) or getattr(x, "_dtype_str", None) is not None
    if is_dtype(value) and not is_dtype(dtype):
        value, dtype = dtype, value
    if isinstance(value, (int, float)):
        raise TileProgramError(f"T.reinterpret({value!r}, {dtype!r}): give a typed value (e.g. T.float32({value!r})), "
                               f"not a Python number, so that its bit width is known")
    return tirx.reinterpret(dtype_str(dtype), value, span=span)


def _unsupported(name: str, why: str):
    return refusing(name, f"T.{name} is not supported by tiledsl yet: {why}", f"Not supported yet: {why}")


#: TileLang names a program may use that tiledsl refuses, with the reason.
UNSUPPORTED = {
    "access_ptr": "raw buffer pointers are not exposed; use T.copy / element access",
    "alloc_barrier": "user-managed mbarriers are not exposed; T.Pipelined places barriers itself",
    "barrier_arrive": "user-managed mbarriers are not exposed",
    "barrier_wait": "user-managed mbarriers are not exposed",
    "mbarrier_wait_parity": "user-managed mbarriers are not exposed",
    "wgmma_gemm": "explicit wgmma is not exposed; T.gemm picks wgmma on sm_90a",
    "wait_wgmma": "explicit wgmma is not exposed; T.gemm picks wgmma on sm_90a",
    "ptx_cp_async": "explicit cp.async is not exposed; T.copy in a T.Pipelined loop uses it",
    "cp_async_barrier_noinc": "explicit cp.async is not exposed",
    "import_source": "inline CUDA source is not supported",
    "tcgen05_gemm": "Blackwell (sm_100) tensor-memory GEMMs are not supported",
    "alloc_tmem": "Blackwell (sm_100) tensor memory is not supported",
    "annotate_compile_flags": "pass compile_flags= to @tiledsl.jit instead",
    "annotate_pass_configs": "pass pass_configs= to @tiledsl.jit instead",
    "gemm_sp": "sparse (2:4) GEMMs are not supported",
    "cumsum": "T.cumsum is not implemented; write the scan in a T.serial loop",
    "mbarrier_arrive": "user-managed mbarriers are not exposed; T.Pipelined places barriers itself",
    "mbarrier_arrive_expect_tx": "user-managed mbarriers are not exposed; T.Pipelined places barriers itself",
    "tma_copy": "explicit TMA copies are not exposed; T.copy into shared memory in a T.Pipelined loop picks TMA",
    "tma_load": "explicit TMA copies are not exposed; T.copy into shared memory in a T.Pipelined loop picks TMA",
    "fence_proxy_async": "explicit proxy fences are not exposed; tiledsl places them with its TMA lowering",
    "ws": "hand-written warp specialization is not exposed; tiledsl's passes specialize pipelined loops",
    "WSSync": "hand-written warp specialization is not exposed",
    "WSID": "hand-written warp specialization is not exposed",
    "WSPipeline": "hand-written warp specialization is not exposed",
    "WSScope": "hand-written warp specialization is not exposed",
    "WSRole": "hand-written warp specialization is not exposed",
    "WSSchedule": "hand-written warp specialization is not exposed",
    "annotate_ws_schedule": "hand-written warp specialization is not exposed",
    "PersistentTileScheduler": "use T.Persistent for a persistent tile loop",
    "ClusterKernel": "thread-block clusters are not supported",
    "alloc_cluster_barrier": "thread-block clusters are not supported",
    "block_rank_in_cluster": "thread-block clusters are not supported",
    "loop_break": "breaking out of a loop is not supported; guard the loop body with an if",
    "device_assert": "device-side assertions are not supported",
    "dp4a": "explicit dp4a is not exposed; write the int8 products and sums as expressions",
    "rng_init": "device random numbers are not supported",
    "rng_rand": "device random numbers are not supported",
}


def unsupported_names() -> dict:
    """``{name: function raising TileProgramError}`` for every name in :data:`UNSUPPORTED`."""
    return {name: _unsupported(name, why) for name, why in UNSUPPORTED.items()}
