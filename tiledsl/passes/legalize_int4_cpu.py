"""LegalizeInt4CPU: 4-bit integer tensors and tiles (``T.int4``, ``T.uint4``) on the LLVM target.

A kernel's ``T.int4`` tensor of shape (..., K) is passed, as in TileLang, as an int8 tensor of shape (..., K / 2)
holding two values per byte: element 2i in the low nibble of byte i, element 2i + 1 in the high nibble (``T.uint4``
likewise in a uint8 tensor). TVM 0.27's LLVM code generator addresses an ``int4`` buffer as LLVM ``i4`` values,
one per byte (an ``i4`` takes a whole byte in memory), so it read element j from byte j: the wrong data, past the
end of the tensor from the middle on. This pass makes the packing explicit:

* each 4-bit tensor parameter becomes an 8-bit parameter of the packed shape, so the compiled function's own
  argument check takes the packed tensor; a load of element j reads byte j // 2, shifts the nibble down
  (arithmetic shift for ``int4``, so the value keeps its sign) and narrows it to 4 bits; a store rewrites its
  nibble of the byte and keeps the other;
* each 4-bit tile (shared, fragment, local) becomes an 8-bit tile of the same shape holding one value per byte: a
  store widens its value, a load narrows it back.

Values stay 4-bit typed between loads and stores (LLVM ``i4``: truncation and sign extension are exact), so
``T.gemm`` on 4-bit tiles, which the CPU lowering already widens to its accumulator type, computes exactly.

CUDA needs none of this: TVM's CUDA code generator addresses 4-bit buffers packed, as the tensors are laid out.

Expects: tile ops lowered (runs after LowerTileOpsCPU), scalar accesses (no vector loads of 4-bit values yet).
Guarantees: no buffer has a 4-bit dtype; 4-bit tensor parameters are 8-bit with the last dimension halved.
"""
from __future__ import annotations

import tvm
import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad

from ..errors import TileProgramError
from ..ir.ops import dtype_of
from .pass_errors import keep_tiledsl_errors
from .rewriter import uses_var

#: 4-bit dtypes and the 8-bit dtypes that store them
STORAGE = {"int4": "int8", "uint4": "uint8"}


def packed_last_dim(name: str, dtype: str, shape) -> int:
    """The size of the last dimension of a 4-bit tensor parameter's packed storage (two values per byte); a
    TileProgramError where the tensor cannot be packed (a symbolic or odd last dimension, no dimension)."""
    last = shape[-1] if len(shape) else None
    if not isinstance(last, (int, tirx.IntImm)):
        raise TileProgramError(f"parameter {name}: {dtype} tensors are passed packed, two values per byte, so the "
                               f"size of the last dimension must be a constant (got {last}); make it static")
    if int(last) % 2:
        raise TileProgramError(f"parameter {name}: {dtype} tensors are passed packed, two values per byte, so the "
                               f"size of the last dimension must be even (got {int(last)})")
    return int(last) // 2


def _const(value: int, dtype: str):
    return tirx.const(value, dtype)


def _nibble_shift(j, storage: str):
    """4 for an odd last index, 0 for an even one, in the storage dtype."""
    return tirx.Cast(storage, tirx.floormod(j, 2) * 4)


def _load_packed(packed, indices, dtype: str):
    """Element ``indices`` of a packed 4-bit tensor, as a 4-bit value."""
    storage = STORAGE[dtype]
    *outer, j = indices
    byte = tirx.BufferLoad(packed, [*outer, tirx.floordiv(j, 2)])
    return tirx.Cast(dtype, tirx.shift_right(byte, _nibble_shift(j, storage)))


def _store_packed(packed, value, indices):
    """Store a 4-bit ``value`` at ``indices`` of a packed tensor, keeping the byte's other nibble."""
    storage = str(packed.ty.dtype)
    *outer, j = indices
    at = [*outer, tirx.floordiv(j, 2)]
    shift = tirx.floormod(j, 2) * 4
    byte = tirx.Cast("int32", tirx.BufferLoad(packed, at))
    kept = tirx.bitwise_and(byte, tirx.bitwise_not(tirx.shift_left(_const(15, "int32"), shift)))
    new = tirx.shift_left(tirx.bitwise_and(tirx.Cast("int32", value), _const(15, "int32")), shift)
    return tirx.BufferStore(packed, tirx.Cast(storage, tirx.bitwise_or(kept, new)), at)


def _is_vector(indices) -> bool:
    return any("x" in dtype_of(index) for index in indices)


def _refuse_other_uses(buf):
    raise TileProgramError(f"{buf.name}: this {buf.ty.dtype} buffer is used other than by loading or storing its "
                           f"elements (its address, a pointer or a region of it); on the CPU target 4-bit buffers "
                           f"support only element accesses")


def _packed_params(func) -> tuple[list, dict]:
    """The parameters with each 4-bit tensor replaced by its packed 8-bit tensor, and {4-bit: packed}."""
    params, packed = [], {}
    for p in func.params:
        dtype = str(p.ty.dtype) if isinstance(getattr(p, "ty", None), tirx.BufferType) else None
        if dtype not in STORAGE:
            params.append(p)
            continue
        shape = list(p.ty.shape)
        packed[p] = tirx.decl_buffer(shape[:-1] + [packed_last_dim(p.name, dtype, shape)], STORAGE[dtype], p.name)
        params.append(packed[p])
    return params, packed


def _byte_tiles(body) -> tuple:
    """``body`` with each 4-bit allocation replaced by an 8-bit one of the same shape, and {4-bit: 8-bit}."""
    tiles = {}

    def on_alloc(stmt):
        buf = stmt.buffer
        if str(buf.ty.dtype) not in STORAGE:
            return stmt
        tiles[buf] = tirx.decl_buffer(buf.ty.shape, STORAGE[str(buf.ty.dtype)], buf.name, scope=buf.scope())
        return tirx.AllocBuffer(tiles[buf])

    return tvm_ffi.structural_map(body, [(tirx.AllocBuffer, on_alloc)], order="pre"), tiles


def _refuse_addresses(body, four_bit) -> None:
    """A TileProgramError where the program takes the address of a 4-bit element (it has no byte address)."""
    addressed = []  # raised after the walk: an exception inside a TVM callback loses its type

    def find(call):
        if call.op.name == "tirx.address_of" and isinstance(call.args[0], TensorLoad) and \
                call.args[0].source in four_bit:
            addressed.append(call.args[0].source)

    tvm_ffi.structural_walk(body, (tvm.ir.Call, find))
    if addressed:
        _refuse_other_uses(addressed[0])


def _element_accesses(body, packed: dict, tiles: dict):
    """``body`` with the loads and stores of 4-bit buffers done on their 8-bit storage (see the module doc)."""
    vectors = []  # 4-bit buffers accessed with vector indices, refused after the rewrite

    def on_load(load):
        if load.source in packed or load.source in tiles:
            if _is_vector(load.indices):
                vectors.append(load.source)
                return load
            dtype = str(load.source.ty.dtype)
            if load.source in packed:
                return _load_packed(packed[load.source], list(load.indices), dtype)
            return tirx.Cast(dtype, tirx.BufferLoad(tiles[load.source], list(load.indices)))
        return load

    def on_store(store):
        if store.buffer in packed or store.buffer in tiles:
            if _is_vector(store.indices):
                vectors.append(store.buffer)
                return store
            if store.buffer in packed:
                return _store_packed(packed[store.buffer], store.value, list(store.indices))
            new = tiles[store.buffer]
            return tirx.BufferStore(new, tirx.Cast(str(new.ty.dtype), store.value), list(store.indices))
        return store

    body = tvm_ffi.structural_map(body, [(TensorLoad, on_load), (tirx.BufferStore, on_store)], order="post")
    if vectors:
        raise TileProgramError(f"{vectors[0].name}: vector accesses to {vectors[0].ty.dtype} buffers are not "
                               f"supported on the CPU target yet; access them element by element")
    return body


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.LegalizeInt4CPU")
@keep_tiledsl_errors
def LegalizeInt4CPU(func, mod, ctx):
    """Pack 4-bit tensor parameters two per byte and store 4-bit tiles one per byte (CPU; see the module doc)."""
    params, packed = _packed_params(func)
    body, tiles = _byte_tiles(func.body)
    if not packed and not tiles:
        return func
    _refuse_addresses(body, {**packed, **tiles})
    body = _element_accesses(body, packed, tiles)
    for old in [*packed, *tiles]:
        if uses_var(body, old):  # a pointer to or a region of it, which has no byte layout
            _refuse_other_uses(old)
    return tirx.PrimFunc(params, body, func.ret_type, func.attrs)
