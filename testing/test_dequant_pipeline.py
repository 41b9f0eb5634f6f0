"""A GEMM whose threads convert an 8-bit weight tile to fp16 in its pipelined loop, on sm_90a:

* ``TILEDSL_OVERLAP_TRANSFORMS=1`` (``passes/cuda/pipeline.py``, ``_transform_tiles``): the converted tile gets two
  buffers, so the threads convert the next k step while the current wgmma runs (one wgmma group stays in flight);
* ``TILEDSL_FAST_INT8_CAST=1`` (``passes/cuda/int8_convert.py``): the conversion is byte permutes and an fp16
  subtract instead of one I2F per element.

* ``TILEDSL_WS_TRANSFORMS=1`` (the default since 2026-12-05 late evening; each test here switches it off unless it
  says otherwise, as the first two are about the loop without a producer warpgroup): the loop warp-specialized,
  the weight loaded by TMA too, the converted tile in three buffers, the consumers meeting at a named barrier.

CPU: the helper's arithmetic is exact for every byte (emulated from the constants its source is built from);
which loops qualify for the double buffer (lowering only); nvcc: the loop's shape, and the helper writing exactly
where the plain stores write (the same swizzled offsets). GPU: the switches, alone and together, against torch.
"""
import re

import numpy as np
import pytest
import torch
import tvm
import tvm_ffi
from tvm import tirx

import tiledsl
import tiledsl.language as T
from tiledsl.passes.cuda import int8_convert
from tiledsl.passes.pipeline import lower

import general_programs as bench

SM90A = {"kind": "cuda", "arch": "sm_90a"}
F16 = "float16"


pytestmark = pytest.mark.usefixtures("general_passes_only")


@pytest.fixture(autouse=True)
def _switches(monkeypatch):
    monkeypatch.setenv("TILEDSL_WS_TRANSFORMS", "0")
    monkeypatch.setenv("TILEDSL_REGISTER_DEQUANT", "0")  # the cast loop as written (test_register_dequant.py: the other)


def dequant_gemm(M, N, K, wdtype="int8", block_M=128, block_N=128, block_K=64, stages=4, threads=256,
                 variant="plain"):
    """C = A @ W (W 8-bit, converted per tile). ``variant``: "half_tile" (the conversion writes half the tile),
    "tile_read_after" (the converted tile is read again after the loop), "accumulates" (the conversion adds to
    what the tile held: it carries a value across iterations): loops that must keep a single buffer."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), F16), W: T.Tensor((K, N), wdtype), C: T.Tensor((M, N), F16)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), F16)
            W_s = T.alloc_shared((block_K, block_N), wdtype)
            B_s = T.alloc_shared((block_K, block_N), F16)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[by * block_M, k * block_K], A_s)
                T.copy(W[k * block_K, bx * block_N], W_s)
                if variant == "half_tile":
                    for i, j in T.Parallel(block_K // 2, block_N):
                        B_s[i, j] = T.Cast(F16, W_s[i, j])
                elif variant == "accumulates":
                    for i, j in T.Parallel(block_K, block_N):
                        B_s[i, j] = B_s[i, j] + T.Cast(F16, W_s[i, j])
                else:
                    for i, j in T.Parallel(block_K, block_N):
                        B_s[i, j] = T.Cast(F16, W_s[i, j])
                T.gemm(A_s, B_s, C_f)
            if variant == "tile_read_after":
                for i, j in T.Parallel(block_M, block_N):
                    C_f[i, j] = C_f[i, j] + B_s[0, j]
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


# ---------------------------------------------------------------- the conversion helper's arithmetic
def _prmt(a: int, b: int, selector: int) -> int:
    """PTX ``prmt.b32`` (default mode): result byte i is byte (selector nibble i & 7) of the 8 bytes {b, a}; a
    set nibble bit 3 replicates that byte's sign bit instead."""
    pool = [(a >> (8 * i)) & 0xFF for i in range(4)] + [(b >> (8 * i)) & 0xFF for i in range(4)]
    out = 0
    for i in range(4):
        nib = (selector >> (4 * i)) & 0xF
        byte = pool[nib & 7]
        if nib & 8:
            byte = 0xFF if byte & 0x80 else 0
        out |= byte << (8 * i)
    return out


def _halves(word: int) -> np.ndarray:
    return np.array([word & 0xFFFF, word >> 16], dtype=np.uint16).view(np.float16)


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_conversion_helper_is_exact_for_every_byte(dtype):
    """The helper's steps, emulated from the constants its CUDA source is built from, give every byte's value."""
    values = np.arange(-128, 128) if dtype == "int8" else np.arange(256)
    raw = (values & 0xFF).astype(np.uint32)
    for group in range(0, 256, 4):
        word = int(raw[group] | raw[group + 1] << 8 | raw[group + 2] << 16 | raw[group + 3] << 24)
        if dtype == "int8":
            word ^= int8_convert.SIGN_FLIP
        got = []
        for sel in int8_convert.BYTE_SELECTORS:
            pair = _halves(_prmt(word, int8_convert.EXPONENT_BYTES, sel))
            got += list(pair - _halves(int8_convert.BIAS[dtype]))  # sub.f16x2: fp16 arithmetic, exact here
        assert np.array_equal(np.array(got, dtype=np.float16), values[group:group + 4].astype(np.float16))
    src = int8_convert.helper_source(dtype, 8)
    for constant in [int8_convert.EXPONENT_BYTES, int8_convert.BIAS[dtype], *int8_convert.BYTE_SELECTORS]:
        assert f"0x{constant:0{8 if constant > 0xFFFF else 4}x}u" in src
    assert (f"0x{int8_convert.SIGN_FLIP:08x}u" in src) == (dtype == "int8")
    assert src.count("prmt.b32") == 4 and src.count("sub.f16x2") == 4 and "make_uint4" in src


# ---------------------------------------------------------------- which loops get the double buffer
def _staged_shape(func, tile="B_s"):
    """The shape the pipelined loop gives ``tile`` (lowered for sm_90a; cp.async loops)."""
    mod = lower(tvm.IRModule({"main": func}), tvm.target.Target(SM90A), allow_hopper_shortcut=False).mod
    shapes = []

    def on_decl(stmt):
        if stmt.buffer.name == tile:
            shapes.append(tuple(int(e) for e in stmt.buffer.ty.shape))
    tvm_ffi.structural_walk(mod["main"].body, [(tirx.DeclBuffer, on_decl), (tirx.AllocBuffer, on_decl)])
    return shapes[0]


@pytest.mark.parametrize("variant,stages,doubled", [
    ("plain", 4, True), ("plain", 3, True),
    ("plain", 2, False),  # no stage to spare for the in-flight gemm
    ("half_tile", 4, False), ("tile_read_after", 4, False), ("accumulates", 4, False)])
def test_only_a_whole_tile_used_by_the_gemm_alone_is_double_buffered(variant, stages, doubled, monkeypatch):
    monkeypatch.setenv("TILEDSL_OVERLAP_TRANSFORMS", "1")
    func = dequant_gemm(256, 256, 256, stages=stages, variant=variant)
    assert _staged_shape(func) == ((2, 64, 128) if doubled else (64, 128))


def test_double_buffer_is_on_by_default_and_off_with_the_switch(monkeypatch):
    assert _staged_shape(dequant_gemm(256, 256, 256)) == (2, 64, 128)
    monkeypatch.setenv("TILEDSL_OVERLAP_TRANSFORMS", "0")
    assert _staged_shape(dequant_gemm(256, 256, 256)) == (64, 128)


# ---------------------------------------------------------------- the loop nvcc builds
def _loop(src):
    return src.split("for (int k_p", 1)[1]


@pytest.mark.nvcc
def test_converting_loop_keeps_one_wgmma_group_in_flight(monkeypatch):
    monkeypatch.setenv("TILEDSL_OVERLAP_TRANSFORMS", "1")
    monkeypatch.setenv("TILEDSL_FAST_INT8_CAST", "0")  # the plain vector cast's stores, matched below
    src = tiledsl.compile(bench.int8_weight_gemm(256, 256, 512), out_idx=[], target=SM90A).get_kernel_source()
    loop, after = _loop(src).split("wgmma_wait_group_wait_group_sync_aligned_0();", 1)
    assert "wgmma_wait_group_wait_group_sync_aligned_1();" in loop
    # 4 stages: loads run 2 iterations ahead (the in-flight gemm's stage is not refilled), one barrier first
    assert loop.index("cp_async_wait_group_async_wait_group_1();") < loop.index("__syncthreads();")
    assert "(k_p + 2) & 3" in loop and "(k_p + 3) & 3" not in loop
    assert "B_s[((k_p & 1) * 8192)]" in loop  # the gemm reads this iteration's buffer ...
    assert re.search(r"B_s \+ \(+\(k_p & 1\) \* 8192\)", loop)  # ... the threads write it
    # the conversion's writes are fenced for the async proxy and every thread's are done before the wgmma
    fence, sync, wgmma = (loop.index(s) for s in ("fence_proxy_proxy_async", "__syncthreads();\n    tvm_builtin_ptx_wgmma_f16",
                                                  "wgmma_f16_ss"))
    assert fence < sync < wgmma


@pytest.mark.nvcc
@pytest.mark.parametrize("wdtype", ["int8", "uint8"])
def test_fast_conversion_writes_where_the_cast_writes(wdtype, monkeypatch):
    """The helper calls read and write exactly the (swizzled) offsets the plain vector cast reads and writes."""
    func = dequant_gemm(256, 256, 256, wdtype=wdtype)
    monkeypatch.setenv("TILEDSL_FAST_INT8_CAST", "0")
    plain = _loop(tiledsl.compile(func, out_idx=[], target=SM90A).get_kernel_source())
    monkeypatch.setenv("TILEDSL_FAST_INT8_CAST", "1")
    fast = _loop(tiledsl.compile(func, out_idx=[], target=SM90A).get_kernel_source())
    name = int8_convert.helper_name(wdtype, 8)
    assert "reinterpret_cast<const" not in fast and fast.count(name + "(") == 4
    calls = re.findall(name + r"\(\(&\(W_s\[(.*?)\]\)\), \(&\(B_s\[(.*?)\]\)\)\);", fast)
    reads = re.findall(r"u?int2 \w+ = \*\(u?int2\*\)\(W_s \+ (.*?)\);", plain)
    writes = re.findall(r"\*\(uint4\*\)\(B_s \+ (.*?)\) = ", plain)
    assert len(calls) == len(reads) == len(writes) == 4

    def canon(e):
        return e.replace(" ", "").strip("()")
    assert sorted(canon(w) for w, _ in calls) == sorted(canon(r) for r in reads)
    assert sorted(canon(b) for _, b in calls) == sorted(canon(w) for w in writes)


@pytest.mark.nvcc
def test_warp_specialized_conversion(monkeypatch):
    """TILEDSL_WS_TRANSFORMS=1: a producer warpgroup loads A and the int8 weight by TMA; each consumer iteration
    waits for its stage, converts into buffer (ring position mod 3), fences the writes for the tensor cores and
    meets the other consumer threads at named barrier 4 (never a whole-block barrier, which the producer warps
    would not reach), then issues its wgmma with one group in flight and releases the previous stage."""
    program = lambda: bench.int8_weight_gemm(512, 512, 512, block_M=256)  # noqa: E731
    plain = tiledsl.compile(program(), out_idx=[], target=SM90A)
    assert plain.kernel_info["pipelines"] == ["cp.async"]
    monkeypatch.setenv("TILEDSL_WS_TRANSFORMS", "1")
    kernel = tiledsl.compile(program(), out_idx=[], target=SM90A)
    assert kernel.kernel_info["pipelines"] == ["tma+warp_specialized+transforms"]
    src = kernel.get_kernel_source()
    body = src[src.index("extern \"C\" __global__"):]
    producer, consumers = body.split("setmaxnreg_inc", 1)
    assert "W_tmap" in producer and "A_tmap" in producer and "cp_async_cg" not in body
    loop = consumers.split("for (int k_p", 1)[1].split("wgmma_wait_group_wait_group_sync_aligned_0();", 1)[0]
    assert "__syncthreads" not in consumers
    order = [loop.index(s) for s in ("mbarrier_wait((&(A_s_full_ptr", "tiledsl_cvt_s8x8_f16", "fence_proxy_proxy_async",
                                     "bar_sync_count_sync((uint)4, (uint)256)", "wgmma_f16_ss",
                                     "wait_group_sync_aligned_1();", "mbarrier_arrive_arrive_shared_b64")]
    assert order == sorted(order)
    assert "% 3) * 8192" in loop  # the converted tile's three buffers


# ---------------------------------------------------------------- GPU
GPU_CASES = {
    # name: (M, N, K, kwargs); all on wgmma but the last, whose 32 x 32 weight tile gives each thread 4 lanes
    "int8": (256, 384, 512, {}),
    "uint8": (256, 256, 512, {"wdtype": "uint8"}),
    "int8_ragged_k": (128, 256, 200, {}),
    "int8_3_stages": (256, 256, 448, {"stages": 3}),
    "int8_4_lanes_mma_sync": (256, 128, 256, {"block_N": 32, "block_K": 32}),
}


@pytest.mark.gpu
@pytest.mark.parametrize("switches", ["overlap", "fast", "overlap+fast", "overlap+fast+ws", "overlap+fast+ws+2ctas"])
@pytest.mark.parametrize("name", sorted(GPU_CASES))
def test_dequant_gemm_matches_torch(name, switches, monkeypatch):
    monkeypatch.setenv("TILEDSL_OVERLAP_TRANSFORMS", "1" if "overlap" in switches else "0")
    monkeypatch.setenv("TILEDSL_FAST_INT8_CAST", "1" if "fast" in switches else "0")
    monkeypatch.setenv("TILEDSL_WS_TRANSFORMS", "1" if "ws" in switches else "0")
    if "2ctas" in switches:  # a persistent grid of 2 CTAs: several tiles per CTA, the ring and buffers carried on
        monkeypatch.setenv("TILEDSL_PERSISTENT", "2")
    M, N, K, kw = GPU_CASES[name]
    wdtype = kw.get("wdtype", "int8")
    kernel = tiledsl.compile(dequant_gemm(M, N, K, **kw), out_idx=[], target="cuda")
    src = kernel.get_kernel_source()
    assert bench.gemm_instruction(src) == ("mma.sync" if name.endswith("mma_sync") else "wgmma")
    if "fast" in switches:
        assert int8_convert.helper_name(wdtype, 4 if "4_lanes" in name else 8) in src
    a = torch.randn(M, K, device="cuda").half()
    low, high = (-128, 128) if wdtype == "int8" else (0, 256)
    w = torch.randint(low, high, (K, N), device="cuda", dtype=getattr(torch, wdtype))
    w[0, :4] = torch.tensor([low, high - 1, 0, 1], dtype=w.dtype)  # the ends of the range
    c = torch.full((M, N), float("nan"), device="cuda", dtype=torch.float16)
    kernel(a, w, c)
    torch.cuda.synchronize()
    want = a.float() @ w.float()
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.float(), want, rtol=2e-2, atol=0.5)
