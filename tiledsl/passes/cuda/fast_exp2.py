"""Float32 ``T.exp2`` on CUDA as one ``ex2.approx.ftz.f32`` (the default; ``TILEDSL_FAST_EXP2=0`` keeps ``exp2f``).

CUDA's ``exp2f`` compiles to ``MUFU.EX2`` wrapped in denormal handling: a compare with -126 and two predicated
multiplies around it, four instructions where one does. In flash attention's loop that wrapping was 198 of 756
SASS instructions per iteration (the backward: 96 per iteration); the hand-written kernel of
``shared/notes/hopper-attention`` (and the Hopper shortcut) uses ``ex2.approx.ftz.f32`` directly. Both have CUDA's
documented 2 ulp maximum error for ``exp2f``; the instruction flushes subnormal inputs and results to zero, so
``exp2(x)`` for ``x < -126`` is 0 instead of a subnormal below 1.2e-38.

The rewrite happens where TVM lowers intrinsics (LowerIntrin, after vectorization): this module registers a CUDA
lowering for ``tirx.exp2`` above TVM's own, which handles every other type. A vectorized call (2, 4 or 8 float32
lanes, as ``float2`` / ``float4`` / ``ulonglong4``) calls the overload of its vector type, lane by lane.
"""
from __future__ import annotations

from tvm import tirx
from tvm.ir import Op
from tvm.script import tirx as T

from ... import config

NAME = "tiledsl_exp2f"

_SOURCE = f"""__forceinline__ __device__ float {NAME}(float x) {{
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}}
__forceinline__ __device__ float2 {NAME}(float2 v) {{ return make_float2({NAME}(v.x), {NAME}(v.y)); }}
__forceinline__ __device__ float4 {NAME}(float4 v) {{
  return make_float4({NAME}(v.x), {NAME}(v.y), {NAME}(v.z), {NAME}(v.w));
}}
__forceinline__ __device__ ulonglong4 {NAME}(ulonglong4 v) {{
  float2* f = (float2*)(&v);
  for (int i = 0; i < 4; ++i) f[i] = {NAME}(f[i]);
  return v;
}}
"""

_LANES = (1, 2, 4, 8)
_default = None


def _lower_exp2(call):
    """TVM's CUDA lowering of ``tirx.exp2``: float32 (1, 2, 4 or 8 lanes) to :data:`NAME`, the rest as TVM does."""
    dtype = call.ty.dtype
    if dtype.is_float and dtype.bits == 32 and dtype.lanes in _LANES and config.fast_exp2_enabled():
        return T.cuda.func_call(NAME, call.args[0], source_code=_SOURCE, return_type=str(dtype))
    return _default(call)


def register() -> None:
    """Put :func:`_lower_exp2` above TVM's CUDA lowering of ``tirx.exp2`` (once per process)."""
    global _default
    if _default is not None:
        return
    _default = Op.get("tirx.exp2").get_attr("cuda.FLowerIntrinsic")
    tirx.register_intrin_lowering("tirx.exp2", target="cuda", f=_lower_exp2, level=99)
