"""Float32 atomic adds into global memory, two or four lanes per instruction (``red.global.add.v2/v4.f32``, sm_90+;
``TILEDSL_VECTOR_ATOMICS=1``; off until its GPU tests have run).

The attention backward adds each iteration's dQ tile into a float32 tensor with one ``atomicAdd`` per element
(32 ``REDG.E.ADD.F32`` per thread per iteration): at the problem sizes of ``bench_general`` that is about 200 G
atomics a second, near what the L2 slices process. The wgmma accumulator gives each thread pairs of adjacent
columns, so a vector reduction halves the requests; the SASS is ``REDG.E.ADD.F32x2`` (``F32x4`` for 4 lanes).

:func:`vector_atomic` is called by ``parallel.distribute`` on the per-slot statement of a fragment loop: when it is
an ``atomicAdd`` (under conditions that do not change across the lanes) into a float32 global tensor whose
addresses are consecutive and aligned across the layout's vector lanes (the test the element loops' vector
accesses pass), it becomes one helper call per 2 or 4 lanes.
"""
from __future__ import annotations

from tvm import tirx
from tvm.ir import Call, StringImm, TensorLoad
from tvm.script import tirx as T

from ..lowering_options import schedule
from ..rewriter import substitute, uses_var


def _helper(width: int):
    regs = ", ".join(f"%{k + 1}" for k in range(width))
    params = ", ".join(f"float v{k}" for k in range(width))
    inputs = ", ".join(f'"f"(v{k})' for k in range(width))
    name = f"tiledsl_red_add_v{width}"
    source = (f"__forceinline__ __device__ void {name}(float* addr, {params}) {{\n"
              f'  asm volatile("red.global.add.v{width}.f32 [%0], {{{regs}}};" :: "l"(addr), {inputs} : "memory");\n'
              "}\n")
    return name, source


def _atomic_add(stmt):
    """(buffer, indices, value) of ``atomicAdd(&buf[indices], value)``, else None."""
    if not isinstance(stmt, tirx.Evaluate) or not isinstance(stmt.value, Call):
        return None
    call = stmt.value
    if getattr(call.op, "name", "") != "tirx.call_extern" or len(call.args) != 3:
        return None
    if not isinstance(call.args[0], StringImm) or call.args[0].value != "atomicAdd":
        return None
    addr = call.args[1]
    if not (isinstance(addr, Call) and getattr(addr.op, "name", "") == "tirx.address_of"):
        return None
    load = addr.args[0]
    if not isinstance(load, TensorLoad):
        return None
    return load.source, list(load.indices), call.args[2]


def vector_atomic(ctx, stmt, lane, vec: int, width_of):
    """``stmt`` (one slot's statement, over vector lane ``lane`` < ``vec``) as vector reductions, or None.
    ``width_of(store, lane, vec)``: the vector width the element loops would give a store with these accesses."""
    from .gemm_mma import current_sm

    if not schedule("TILEDSL_VECTOR_ATOMICS") or vec < 2 or current_sm() < 90:
        return None
    conds, core = [], stmt
    while isinstance(core, tirx.IfThenElse) and core.else_case is None and not uses_var(core.condition, lane):
        conds.append(core.condition)
        core = core.then_case
    found = _atomic_add(core)
    if found is None:
        return None
    buf, idx, value = found
    if str(buf.ty.dtype) != "float32" or buf.scope() != "global":
        return None
    width = min(width_of(tirx.BufferStore(buf, value, idx), lane, vec), 4)
    if width < 2:
        return None
    name, source = _helper(width)
    vo = tirx.Var("vo", "int32")
    first = vo * width
    at = [substitute(i, {lane: first}) for i in idx]
    lanes = [substitute(value, {lane: first + k}) for k in range(width)]
    out = tirx.Evaluate(T.cuda.func_call(name, tirx.address_of(tirx.BufferLoad(buf, at)), *lanes,
                                         source_code=source))
    if vec // width > 1:
        out = tirx.For(vo, 0, vec // width, tirx.ForKind.UNROLLED, out)
    else:
        out = substitute(out, {vo: tirx.const(0, "int32")})
    for cond in reversed(conds):
        out = tirx.IfThenElse(cond, out, None)
    return out
