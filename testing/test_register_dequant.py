"""RegisterDequant (``passes/cuda/register_dequant.py``): a gemm whose B is an 8-bit tile cast to fp16 in the loop
computes C^T = W^T A^T on sm_90a, the weight converted in registers as wgmma's A operand.

CPU: the swapped accumulator layout is a bijection whose register pairs are adjacent columns of C; the
conversion's byte selectors give every byte's value in the column order ldmatrix.trans delivers; which programs
the pass rewrites and which it leaves as written (lowering only). GPU: the rewritten programs against torch, with
and without a producer warpgroup, on cp.async, on a persistent grid, split along K.
"""
import itertools

import numpy as np
import pytest
import torch
import tvm

import tiledsl
import tiledsl.language as T
from tiledsl.passes.cuda import int8_convert, register_dequant
from tiledsl.passes.cuda.layout import SwappedWGMMAAccumulator
from tiledsl.passes.pipeline import lower

import general_programs as bench

SM90A = {"kind": "cuda", "arch": "sm_90a"}
F16 = "float16"

pytestmark = pytest.mark.usefixtures("general_passes_only")


@pytest.fixture(autouse=True)
def _switch_on(monkeypatch):
    monkeypatch.setenv("TILEDSL_REGISTER_DEQUANT", "1")


def weight_gemm(M, N, K, wdtype="int8", block_M=128, block_N=128, block_K=64, stages=3, threads=256,
                variant="plain", adtype=F16):
    """C = (A @ W) * s[n] + 1 (W 8-bit, converted per tile). ``variant``: "a_transposed" (A stored [K, M]),
    "copy_cast" (the conversion as ``T.copy(W_s, B_s)``), "scaled_cast" (the conversion also scales), "weight_nk"
    (W stored [N, K], ``transpose_B``), "row_max" (a reduction over C's rows follows), "tile_read_after" (the
    converted tile is read after the loop). ``adtype``: A's type and the cast's (float16 or bfloat16)."""
    a_shape = (K, M) if variant == "a_transposed" else (M, K)
    w_shape = (N, K) if variant == "weight_nk" else (K, N)
    a_tile = (block_K, block_M) if variant == "a_transposed" else (block_M, block_K)
    w_tile = (block_N, block_K) if variant == "weight_nk" else (block_K, block_N)

    @T.prim_func
    def kernel(A: T.Tensor(a_shape, adtype), W: T.Tensor(w_shape, wdtype), S: T.Tensor((N,), "float32"),
               C: T.Tensor((M, N), F16)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared(a_tile, adtype)
            W_s = T.alloc_shared(w_tile, wdtype)
            B_s = T.alloc_shared(w_tile, adtype)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            m = T.alloc_fragment((block_M,), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                if variant == "a_transposed":
                    T.copy(A[k * block_K, by * block_M], A_s)
                else:
                    T.copy(A[by * block_M, k * block_K], A_s)
                if variant == "weight_nk":
                    T.copy(W[bx * block_N, k * block_K], W_s)
                else:
                    T.copy(W[k * block_K, bx * block_N], W_s)
                if variant == "copy_cast":  # the conversion as a copy between the tiles
                    T.copy(W_s, B_s)
                else:
                    for i, j in T.Parallel(*w_tile):
                        if variant == "scaled_cast":
                            B_s[i, j] = T.Cast(adtype, W_s[i, j]) * T.Cast(adtype, 0.5)
                        else:
                            B_s[i, j] = T.Cast(adtype, W_s[i, j])
                T.gemm(A_s, B_s, C_f, transpose_A=variant == "a_transposed", transpose_B=variant == "weight_nk")
            if variant == "row_max":
                T.reduce_max(C_f, m, dim=1)
                for i, j in T.Parallel(block_M, block_N):
                    C_f[i, j] = C_f[i, j] - m[i]
            if variant == "tile_read_after":
                for i, j in T.Parallel(block_M, block_N):
                    C_f[i, j] = C_f[i, j] + B_s[0, j]
            for i, j in T.Parallel(block_M, block_N):
                C_f[i, j] = C_f[i, j] * S[bx * block_N + j] + 1.0
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def reference(variant, a, w, s):
    """The float64 result of :func:`weight_gemm` on these inputs."""
    a64 = (a.t() if variant == "a_transposed" else a).double()
    w64 = (w.t() if variant == "weight_nk" else w).double()
    if variant == "scaled_cast":
        w64 = w64 * 0.5
    c = a64 @ w64
    if variant == "row_max":
        c = c - c.max(dim=1, keepdim=True).values
    return c * s.double() + 1.0


# ---------------------------------------------------------------- the layout
@pytest.mark.parametrize("shape,warps_m,warps_n", [((256, 128), 8, 1), ((128, 256), 8, 1), ((16, 128), 8, 1),
                                                   ((64, 64), 4, 1), ((128, 128), 4, 2)])
def test_swapped_layout_is_a_bijection_with_column_pairs(shape, warps_m, warps_n):
    lay = SwappedWGMMAAccumulator(shape, warps_m, warps_n)
    seen = set()
    for tid, local in itertools.product(range(lay.nthreads), range(lay.local_size)):
        m, n = lay.inverse(tid, local)
        assert 0 <= m < shape[0] and 0 <= n < shape[1]
        assert lay.owner([m, n]) == (tid, local)
        seen.add((m, n))
        if local % 2:
            assert lay.inverse(tid, local - 1) == [m, n - 1]  # a register pair: two adjacent columns of one row
    assert len(seen) == shape[0] * shape[1]
    # the base accumulator holds C^T: base register swap_bits(local) of the thread is (n', m) with n' in n's pair
    base = lay.base
    for tid, local in [(0, 0), (5, 3), (lay.nthreads - 1, lay.local_size - 1)]:
        m, n = lay.inverse(tid, local)
        bn, bm = base.inverse(tid, SwappedWGMMAAccumulator.swap_bits(local))
        assert bm == m and bn // 16 == n // 16


# ---------------------------------------------------------------- the conversion
def _prmt(a: int, b: int, selector: int) -> int:
    pool = [(a >> (8 * i)) & 0xFF for i in range(4)] + [(b >> (8 * i)) & 0xFF for i in range(4)]
    return sum(pool[(selector >> (4 * i)) & 7] << (8 * i) for i in range(4))


def _halves(word: int) -> np.ndarray:
    return np.array([word & 0xFFFF, word >> 16], dtype=np.uint16).view(np.float16)


def _bf16(bits: int) -> float:
    """The value of the bfloat16 whose bits are ``bits`` (the upper half of a float32)."""
    return float(np.array([bits << 16], dtype=np.uint32).view(np.float32)[0])


def _converted_pair(word: int, lo: int, hi: int, dtype: str, to: str) -> list:
    """What the helpers' lines compute for bytes ``lo`` and ``hi`` of ``word`` (emulated from the constants their
    CUDA source is built from): fp16 via prmt under 0x64 and sub.f16x2, bfloat16 via float32 under 0x4B."""
    if dtype == "int8":
        word ^= int8_convert.SIGN_FLIP
    if to == "float16":
        sel = 0x4040 | lo | hi << 8
        return list(_halves(_prmt(word, int8_convert.EXPONENT_BYTES, sel)) - _halves(int8_convert.BIAS[dtype]))
    bias = float(register_dequant._F32_BIAS[dtype].rstrip("f"))
    out = []
    for byte in (lo, hi):
        bits = _prmt(word, register_dequant._F32_MAGIC, 0x7440 | byte)
        f = np.float32(np.array([bits], dtype=np.uint32).view(np.float32)[0]) - np.float32(bias)
        upper = int(np.array([f], dtype=np.float32).view(np.uint32)[0]) >> 16  # __byte_perm(.., 0x7632): upper half
        assert (int(np.array([f], dtype=np.float32).view(np.uint32)[0]) & 0xFFFF) == 0  # exact in bfloat16
        out.append(_bf16(upper))
    return out


@pytest.mark.parametrize("to", ["float16", "bfloat16"])
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_helpers_give_each_column_its_two_rows_exactly(dtype, to):
    """An ldmatrix.trans word holds W[k][n], W[k][n + 1], W[k + 1][n], W[k + 1][n + 1]; the helper's two results
    are column n's (k, k + 1) and column n + 1's; the [N, K] helper's 16-bit load holds W[n][k], W[n][k + 1],
    converted as one pair. Exact for every byte value, in both 16-bit types."""
    values = np.arange(-128, 128) if dtype == "int8" else np.arange(256)
    rng = np.random.default_rng(0)
    quads = [values[i:i + 4] for i in range(0, 256, 4)] + [rng.choice(values, 4) for _ in range(32)]
    for quad in quads:
        raw = [int(v) & 0xFF for v in quad]
        word = raw[0] | raw[1] << 8 | raw[2] << 16 | raw[3] << 24
        (lo0, hi0), (lo1, hi1) = register_dequant._COLUMN_BYTES
        assert _converted_pair(word, lo0, hi0, dtype, to) == [quad[0], quad[2]]
        assert _converted_pair(word, lo1, hi1, dtype, to) == [quad[1], quad[3]]
        assert _converted_pair(word & 0xFFFF, 0, 1, dtype, to) == [quad[0], quad[1]]
    src = register_dequant.helper_source(dtype, to) + register_dequant.pair_helper_source(dtype, to)
    assert "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16" in src and "unsigned short" in src
    assert (f"0x{int8_convert.SIGN_FLIP:08x}u" in src) == (dtype == "int8")
    if to == "float16":
        assert src.count("prmt.b32") == 3 and src.count("sub.f16x2") == 3
    else:
        assert src.count("__byte_perm") == 9 and register_dequant._F32_BIAS[dtype] in src


# ---------------------------------------------------------------- which programs the pass rewrites
def _lowered_text(func, target=SM90A):
    mod = lower(tvm.IRModule({"main": func}), tvm.target.Target(target), allow_hopper_shortcut=False).mod
    return mod["main"].script()


@pytest.mark.parametrize("variant,kw,rewritten", [
    ("plain", {}, True),
    ("plain", {"wdtype": "uint8"}, True),
    ("copy_cast", {}, True),
    ("plain", {"adtype": "bfloat16"}, True),
    ("weight_nk", {"adtype": "bfloat16", "wdtype": "uint8"}, True),
    ("a_transposed", {}, True),
    ("plain", {"block_M": 16, "stages": 4}, True),
    ("plain", {"block_M": 64, "block_N": 64, "threads": 128}, True),
    ("scaled_cast", {}, False),  # not a plain cast
    ("weight_nk", {}, True),  # W stored [N, K]: 2-byte loads
    ("weight_nk", {"wdtype": "uint8", "block_N": 256}, True),
    ("row_max", {}, False),  # a reduction over C's rows: the swapped layout has no row statistics
    ("tile_read_after", {}, False),  # the converted tile is used again
    ("plain", {"block_K": 16}, False),  # k tiles of 32
    ("plain", {"block_N": 32}, False),  # 64 weight columns per warpgroup
])
def test_which_programs_are_rewritten(variant, kw, rewritten):
    text = _lowered_text(weight_gemm(256, 256, 256, variant=variant, **kw))
    name = register_dequant.pair_helper_name if variant == "weight_nk" else register_dequant.helper_name
    helper = name(kw.get("wdtype", "int8"), kw.get("adtype", F16))
    assert (helper in text) == rewritten
    assert ("B_s" not in text) == rewritten


def test_off_with_the_switch_and_on_other_targets(monkeypatch):
    func = weight_gemm(256, 256, 256)
    assert register_dequant.helper_name("int8") not in _lowered_text(func, {"kind": "cuda", "arch": "sm_80"})
    monkeypatch.setenv("TILEDSL_REGISTER_DEQUANT", "0")
    assert register_dequant.helper_name("int8") not in _lowered_text(func)


@pytest.mark.nvcc
def test_benchmark_program_builds_warp_specialized_without_spills():
    """The int8-weight GEMM's M = 4096 config: a producer warpgroup loading A and W by TMA, each consumer k step
    one ldmatrix.trans per 32 k and wgmmas with register A (``f16_rs``), no converted tile in shared memory."""
    kernel = tiledsl.compile(bench.int8_weight_gemm(512, 512, 512, block_M=256), out_idx=[], target=SM90A)
    assert kernel.kernel_info["pipelines"] == ["tma+warp_specialized"]
    src = kernel.get_kernel_source()
    loop = src.split("for (int k_p", 1)[1].split("wgmma_wait_group_wait_group_sync_aligned_0();", 1)[0]
    assert loop.count("tiledsl_ldsm_t_s8_f16(") == 2 and loop.count("wgmma_f16_rs") == 4
    assert "B_s" not in src and "wgmma_f16_ss" not in src and "__syncthreads" not in loop


# ---------------------------------------------------------------- GPU
GPU_CASES = {
    # name: (M, N, K, kwargs)
    "tile_256x128": (512, 256, 512, {"block_M": 256, "stages": 4}),
    "tile_128x256": (256, 512, 512, {"block_N": 256}),
    "tile_16x128": (16, 512, 1024, {"block_M": 16, "stages": 4}),
    "tile_64x64_one_warpgroup": (192, 256, 256, {"block_M": 64, "block_N": 64, "threads": 128}),
    "uint8": (256, 256, 512, {"wdtype": "uint8"}),
    "ragged": (200, 384, 200, {}),
    "ragged_n": (64, 208, 256, {}),  # 208 columns: the last weight tile half outside W
    "weight_nk_ragged_n": (64, 208, 256, {"variant": "weight_nk"}),
    "k_tile_32": (256, 256, 512, {"block_K": 32}),  # one register set: each k step waits for the last
    "a_transposed": (256, 256, 512, {"variant": "a_transposed"}),
    "copy_cast": (256, 256, 256, {"variant": "copy_cast"}),
    "bf16": (256, 384, 512, {"adtype": "bfloat16"}),
    "bf16_weight_nk_uint8": (256, 256, 512, {"adtype": "bfloat16", "variant": "weight_nk", "wdtype": "uint8"}),
    "weight_nk": (256, 384, 512, {"variant": "weight_nk"}),
    "weight_nk_uint8_ragged": (200, 256, 200, {"variant": "weight_nk", "wdtype": "uint8", "block_N": 256}),
}


@pytest.mark.gpu
@pytest.mark.parametrize("schedule", ["default", "no_producer", "cp_async", "persistent_2", "split_4"])
@pytest.mark.parametrize("name", sorted(GPU_CASES))
def test_rewritten_gemm_matches_torch(name, schedule, monkeypatch):
    env = {"no_producer": {"TILEDSL_WARP_SPECIALIZE": "0"}, "cp_async": {"TILEDSL_TMA": "0"},
           "persistent_2": {"TILEDSL_PERSISTENT": "2"}, "split_4": {"TILEDSL_SPLIT_K": "4"}}.get(schedule, {})
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    M, N, K, kw = GPU_CASES[name]
    variant = kw.get("variant", "plain")
    wdtype = kw.get("wdtype", "int8")
    kernel = tiledsl.compile(weight_gemm(M, N, K, **kw), out_idx=[], target="cuda")
    name = register_dequant.pair_helper_name if variant == "weight_nk" else register_dequant.helper_name
    adtype = kw.get("adtype", F16)
    assert name(wdtype, adtype) in kernel.get_kernel_source()
    a = torch.randn((K, M) if variant == "a_transposed" else (M, K), device="cuda").to(getattr(torch, adtype))
    low, high = (-128, 128) if wdtype == "int8" else (0, 256)
    w = torch.randint(low, high, (N, K) if variant == "weight_nk" else (K, N), device="cuda",
                      dtype=getattr(torch, wdtype))
    w[0, :4] = torch.tensor([low, high - 1, 0, 1], dtype=w.dtype)  # the ends of the range
    s = torch.rand(N, device="cuda") * 0.01 + 0.001
    c = torch.full((M, N), float("nan"), device="cuda", dtype=torch.float16)
    kernel(a, w, s, c)
    torch.cuda.synchronize()
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.double(), reference(variant, a, w, s), rtol=2e-2, atol=2e-2)


@pytest.mark.gpu
@pytest.mark.parametrize("schedule", ["default", "no_producer", "cp_async"])
@pytest.mark.parametrize("shape,kw", [((256, 256, 512), {}), ((200, 384, 256), {"block_K": 128}),
                                      ((256, 256, 512), {"group": 64})])
def test_group_scaled_gemm_matches_torch(shape, kw, schedule, monkeypatch):
    """The block-scaled form (each k step's product into a cleared accumulator, added with its group's scales):
    the cleared accumulator takes the swapped layout and the result fragment follows it."""
    env = {"no_producer": {"TILEDSL_WARP_SPECIALIZE": "0"}, "cp_async": {"TILEDSL_TMA": "0"}}.get(schedule, {})
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    M, N, K = shape
    group = kw.get("group", 128)
    kernel = tiledsl.compile(bench.int8_group_scaled_gemm(M, N, K, **kw), out_idx=[], target="cuda")
    assert register_dequant.helper_name("int8") in kernel.get_kernel_source()
    a = torch.randn(M, K, device="cuda").half()
    w = torch.randint(-128, 128, (K, N), device="cuda", dtype=torch.int8)
    s = torch.rand(K // group, N, device="cuda") * 0.01 + 0.001
    c = torch.full((M, N), float("nan"), device="cuda", dtype=torch.float16)
    kernel(a, w, s, c)
    torch.cuda.synchronize()
    want = a.double() @ (w.double() * s.double().repeat_interleave(group, dim=0))
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.double(), want, rtol=2e-2, atol=2e-2)


def test_group_scaled_program_is_rewritten():
    """The block-scaled form keeps its per-step epilogue on the swapped accumulator (lowering only)."""
    text = _lowered_text(bench.int8_group_scaled_gemm(256, 256, 512))
    assert register_dequant.helper_name("int8") in text and "B_s" not in text


def test_swapping_keeps_the_gemms_marks():
    """The swapped gemm and its unswapped fallback keep every mark of the call they replace (a scheduling pass's
    count of wgmma groups included, so the strategy's check still refuses a counted gemm lowered on FMA)."""
    from tiledsl.ir.ops import make_tile_call
    from tiledsl.passes.cuda import gemm_wgmma
    from tvm import tirx

    def tile(shape, dtype, scope="shared.dyn"):
        buf = tirx.decl_buffer(shape, dtype, "t", scope=scope)
        return buf[tuple(slice(0, e) for e in shape)]

    a, w, c = tile((64, 64), F16), tile((64, 128), "int8"), tile((64, 128), "float32", "local.fragment")
    gemm = make_tile_call("gemm", [a, tile((64, 128), F16), c], transpose_A=False, transpose_B=False,
                          clear_accum=True, policy=0, k_pack=1)
    swapped = register_dequant.swapped_call(gemm, w)
    assert swapped.args[0].source.same_as(w.source) and swapped.args[1].source.same_as(a.source)
    assert bool(swapped.attrs["transpose_A"]) and bool(swapped.attrs["transpose_B"])
    assert int(swapped.attrs["k_pack"]) == 1 and bool(swapped.attrs["clear_accum"])
    counted = make_tile_call("gemm", list(swapped.args), **{str(k): v for k, v in swapped.attrs.items()},
                             **{gemm_wgmma.COUNTED_ATTR: 1})
    back = register_dequant.unswapped(counted)
    assert back.args[0].source.same_as(a.source) and back.args[1].source.same_as(w.source)
    assert not bool(back.attrs["transpose_A"]) and not bool(back.attrs["transpose_B"])
    assert gemm_wgmma.COUNTED_ATTR in back.attrs and gemm_wgmma.DEQUANT_ATTR not in back.attrs
