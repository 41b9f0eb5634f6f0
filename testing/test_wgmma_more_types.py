"""Gemm forms on wgmma since 2026-12-07 (``TILEDSL_WGMMA_MORE_TYPES=0`` sends them to FMA): 8-bit integer GEMMs
(int8/uint8 operands, int32 accumulator: the W8A8 form of quantized inference), fp16/fp8 operands into fp16
accumulators (TileLang's fine-grained dequant example runs fp16 x fp16 -> fp16), and 8-bit A fragments. Also 8-bit
element loops with constants.

CPU (LLVM): exact against torch (A from shared memory or from a fragment). nvcc: a K-major B runs on
``wgmma ... .s32.s8.s8`` with TMA loads and warp specialization (a [K, N] B through a K-major copy:
test_k_major_copies.py), an 8-bit A fragment (int8 or fp8) is written
to a shared tile for wgmma, and with the switch off they take FMA and build. GPU: every form, both ways, exactly equal
to torch's integer product; the fp8 fragment form against torch.
"""
import pytest
import torch

import tiledsl
import tiledsl.language as T

import general_programs as bench

SM90A = {"kind": "cuda", "arch": "sm_90a"}


pytestmark = pytest.mark.usefixtures("general_passes_only")


def typed_gemm(M, N, K, a_dtype="int8", b_dtype="int8", trans_B=True, block_M=128, block_N=128, block_K=64,
              stages=3, threads=256, a_fragment=False, acc_dtype="int32", trans_A=False, pipelined=True):
    """C = A @ B with A [M, K] (or [K, M], ``trans_A``) and B [N, K] (``trans_B``) or [K, N]; ``a_fragment``: A
    passes through a fragment (the form of TileLang's W4A8 example, whose A is dequantized in registers), for
    integers negated there and the product negated back; ``pipelined=False``: a plain serial k loop."""
    b_shape = (N, K) if trans_B else (K, N)
    a_shape, a_tile = ((K, M), (block_K, block_M)) if trans_A else ((M, K), (block_M, block_K))
    loop = (lambda n: T.Pipelined(n, num_stages=stages)) if pipelined else T.serial

    @T.prim_func
    def kernel(A: T.Tensor(a_shape, a_dtype), B: T.Tensor(b_shape, b_dtype), C: T.Tensor((M, N), acc_dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared(a_tile, a_dtype)
            A_f = T.alloc_fragment((block_M, block_K), a_dtype)
            B_s = T.alloc_shared((block_N, block_K) if trans_B else (block_K, block_N), b_dtype)
            C_f = T.alloc_fragment((block_M, block_N), acc_dtype)
            T.clear(C_f)
            for k in loop(T.ceildiv(K, block_K)):
                if trans_A:
                    T.copy(A[k * block_K, by * block_M], A_s)
                else:
                    T.copy(A[by * block_M, k * block_K], A_s)
                if trans_B:
                    T.copy(B[bx * block_N, k * block_K], B_s)
                else:
                    T.copy(B[k * block_K, bx * block_N], B_s)
                if a_fragment and a_dtype in ("int8", "uint8"):
                    for i, j in T.Parallel(block_M, block_K):
                        A_f[i, j] = -A_s[i, j]
                    T.gemm(A_f, B_s, C_f, transpose_B=trans_B)
                elif a_fragment:  # (float8 arithmetic does not build for CUDA: nvcc has no fp8 operator *)
                    T.copy(A_s, A_f)
                    T.gemm(A_f, B_s, C_f, transpose_B=trans_B)
                else:
                    T.gemm(A_s, B_s, C_f, transpose_A=trans_A, transpose_B=trans_B)
            if a_fragment and a_dtype in ("int8", "uint8"):
                for i, j in T.Parallel(block_M, block_N):
                    C_f[i, j] = -C_f[i, j]
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def w8a8_scaled(M, N, K, block_M=128, block_N=128, block_K=128, stages=4, threads=256):
    """W8A8 as quantized inference runs it: C = fp16((A @ B^T) * SA[m] * SB[n]) from int8 A [M, K], B [N, K], a
    scale per row of A and per column of B, the int32 accumulator converted in the epilogue."""
    @T.prim_func
    def kernel(A: T.Tensor((M, K), "int8"), B: T.Tensor((N, K), "int8"), SA: T.Tensor((M,), "float32"),
               SB: T.Tensor((N,), "float32"), C: T.Tensor((M, N), "float16")):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), "int8")
            B_s = T.alloc_shared((block_N, block_K), "int8")
            acc = T.alloc_fragment((block_M, block_N), "int32")
            out = T.alloc_fragment((block_M, block_N), "float16")
            T.clear(acc)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[by * block_M, k * block_K], A_s)
                T.copy(B[bx * block_N, k * block_K], B_s)
                T.gemm(A_s, B_s, acc, transpose_B=True)
            for i, j in T.Parallel(block_M, block_N):
                out[i, j] = T.Cast("float16", T.Cast("float32", acc[i, j]) * SA[by * block_M + i]
                                   * SB[bx * block_N + j])
            T.copy(out, C[by * block_M, bx * block_N])
    return kernel


def _check_w8a8_scaled(M, N, K, target, device, **tile):
    """Build, run on fresh inputs (output poisoned), compare with the float64 product; returns the kernel."""
    kernel = tiledsl.compile(w8a8_scaled(M, N, K, **tile), out_idx=[], target=target)
    a, b, product = _inputs(M, N, K, "int8", "int8", True, "cpu")
    sa, sb = torch.rand(M) / 100 + 1e-3, torch.rand(N) / 100 + 1e-3
    c = torch.full((M, N), float("nan"), dtype=torch.float16, device=device)
    kernel(*(t.to(device) for t in (a, b, sa, sb)), c)
    want = product.double() * sa.double()[:, None] * sb.double()[None, :]
    torch.testing.assert_close(c.double().cpu(), want, rtol=2e-3, atol=1e-3 * float(want.abs().max()))
    return kernel


def test_w8a8_with_scales_on_cpu():
    _check_w8a8_scaled(192, 256, 384, "llvm", "cpu", block_M=64, block_N=64, block_K=64, stages=2, threads=128)


@pytest.mark.nvcc
def test_w8a8_with_scales_builds_for_wgmma_and_tma():
    src = tiledsl.compile(w8a8_scaled(512, 512, 512), out_idx=[], target=SM90A).get_kernel_source()
    assert "m64n128k32.s32.s8.s8" in src and "setmaxnreg" in src and "cp_async_bulk_tensor_s2g" in src


@pytest.mark.gpu
def test_w8a8_with_scales_matches_torch():
    kernel = _check_w8a8_scaled(1000, 776, 1024, "cuda", "cuda")  # ragged M and N
    assert bench.gemm_instruction(kernel.get_kernel_source()) == "wgmma"


def _inputs(M, N, K, a_dtype, b_dtype, trans_B, device, negatable=False, trans_A=False):
    def rand(shape, dtype):
        low, high = (-128, 128) if dtype == "int8" else (0, 256)
        low += negatable and dtype == "int8"  # -(-128) does not fit int8
        t = torch.randint(low, high, shape, dtype=getattr(torch, dtype), device=device)
        t.view(-1)[:2] = torch.tensor([low, high - 1], dtype=t.dtype)  # both ends of the range
        return t
    a = rand((K, M) if trans_A else (M, K), a_dtype)
    b = rand((N, K) if trans_B else (K, N), b_dtype)
    # float64 holds every partial sum exactly (|sum| < 2^53); torch has no int64 matmul on CUDA
    want = (a.double().T if trans_A else a.double()) @ (b.double().T if trans_B else b.double())
    return a, b, want.to(torch.int32)


def integer_gemm_matches(kernel, M, N, K, device, a_dtype="int8", b_dtype="int8", trans_B=True, negatable=False,
                         trans_A=False):
    """Run an 8-bit integer GEMM kernel (A, B, C int32; A stored [K, M] when ``trans_A``, B [N, K] when
    ``trans_B``) on fresh inputs spanning the whole range, its output poisoned first; True when C equals torch's
    integer product exactly."""
    a, b, want = _inputs(M, N, K, a_dtype, b_dtype, trans_B, device, negatable, trans_A)
    c = torch.full((M, N), -7, dtype=torch.int32, device=device)
    kernel(a, b, c)
    if device == "cuda":
        torch.cuda.synchronize()
    return torch.equal(c, want)


@pytest.mark.parametrize("a_fragment", [False, True])
def test_wgmma_more_types_on_cpu_is_exact(a_fragment):
    M, N, K = 64, 48, 80
    kernel = tiledsl.compile(typed_gemm(M, N, K, block_M=32, block_N=16, block_K=32, threads=128,
                                       a_fragment=a_fragment), out_idx=[], target="llvm")
    assert integer_gemm_matches(kernel, M, N, K, "cpu", negatable=a_fragment)


@pytest.mark.nvcc
def test_wgmma_more_types_switched_off_builds_on_fma(monkeypatch):
    monkeypatch.setenv("TILEDSL_WGMMA_MORE_TYPES", "0")
    src = tiledsl.compile(typed_gemm(256, 256, 256), out_idx=[], target=SM90A).get_kernel_source()
    assert bench.gemm_instruction(src) == "none"


@pytest.mark.nvcc
@pytest.mark.parametrize("a_dtype,b_dtype", [
    ("int8", "int8"),
    pytest.param("uint8", "uint8", marks=pytest.mark.slow),
    pytest.param("int8", "uint8", marks=pytest.mark.slow)])
def test_int8_gemm_uses_wgmma(a_dtype, b_dtype):
    src = tiledsl.compile(typed_gemm(256, 256, 256, a_dtype, b_dtype), out_idx=[], target=SM90A).get_kernel_source()
    names = {"int8": "s8", "uint8": "u8"}
    assert f"m64n128k32.s32.{names[a_dtype]}.{names[b_dtype]}" in src
    assert bench.copy_instruction(src) == "tma" and "setmaxnreg" in src  # TMA ring, producer warpgroup
    assert "C_f_u32" in src  # the int32 accumulator reaches the instruction as .u32 registers


@pytest.mark.slow  # two nvcc builds each (scripts/test.sh -m slow)
@pytest.mark.nvcc
@pytest.mark.parametrize("dtype,acc", [("int8", "int32"), ("float8_e4m3fn", "float32")])
def test_8bit_fragment_a_is_staged_for_wgmma(dtype, acc, monkeypatch):
    func = typed_gemm(256, 256, 256, dtype, dtype, a_fragment=True, acc_dtype=acc)
    monkeypatch.setenv("TILEDSL_WGMMA_MORE_TYPES", "0")
    assert bench.gemm_instruction(tiledsl.compile(func, out_idx=[], target=SM90A).get_kernel_source()) == "none"
    monkeypatch.setenv("TILEDSL_WGMMA_MORE_TYPES", "1")
    src = tiledsl.compile(func, out_idx=[], target=SM90A).get_kernel_source()
    assert bench.gemm_instruction(src) == "wgmma" and "A_f_staged" in src and "_rs_" not in src


def test_an_8bit_gemm_left_to_fma_by_its_majorness_is_named_once(caplog, monkeypatch):
    """B stored [K, N] and no K-major copy: FMA (8-bit wgmma reads K-major operands), and a warning saying how to
    store it, once."""
    import logging
    import tvm
    from tiledsl.passes.cuda import gemm_wgmma
    from tiledsl.passes.pipeline import lower

    monkeypatch.setenv("TILEDSL_K_MAJOR_COPIES", "0")
    gemm_wgmma._warned_forms.discard(("int8", False, False))  # noqa: SLF001 - a fresh process's state
    target = tvm.target.Target(SM90A)
    with caplog.at_level(logging.WARNING, logger="tiledsl"):
        for _ in range(2):
            lower(tvm.IRModule({"main": typed_gemm(256, 256, 256, trans_B=False)}), target,
                  allow_hopper_shortcut=False)
    said = [r.getMessage() for r in caplog.records if "runs on FMA" in r.getMessage()]
    assert len(said) == 1 and "B stored [K, N]" in said[0] and "transpose_B=True" in said[0]


def test_int8_wgmma_takes_only_the_n_the_instruction_has():
    """Integer wgmma has no N = 40, 56, ...: a 2-warpgroup split of N = 80 (40 each) is not taken."""
    from tiledsl.passes.cuda.gemm_wgmma import _group_grid
    assert _group_grid(64, 80, 2, b_mn_major=False) == (1, 2)
    assert _group_grid(64, 80, 2, b_mn_major=False, integer=True) is None
    assert _group_grid(128, 80, 2, b_mn_major=False, integer=True) == (2, 1)


GPU_CASES = {
    # name: (M, N, K, kwargs)
    "s8_s8": (256, 384, 512, {}),
    "u8_u8": (256, 256, 320, {"a_dtype": "uint8", "b_dtype": "uint8"}),
    "s8_u8": (256, 256, 256, {"b_dtype": "uint8"}),
    "ragged": (200, 136, 160, {}),
    "one_warpgroup": (128, 256, 256, {"block_M": 64, "threads": 128}),
    "b_k_by_n": (128, 128, 128, {"trans_B": False}),  # through a K-major copy (test_k_major_copies.py)
    "a_fragment": (256, 256, 192, {"a_fragment": True}),
}


@pytest.mark.gpu
@pytest.mark.parametrize("wgmma", [False, True])
@pytest.mark.parametrize("name", sorted(GPU_CASES))
def test_wgmma_more_types_matches_torch_exactly(name, wgmma, monkeypatch):
    monkeypatch.setenv("TILEDSL_WGMMA_MORE_TYPES", "1" if wgmma else "0")
    M, N, K, kw = GPU_CASES[name]
    kernel = tiledsl.compile(typed_gemm(M, N, K, **kw), out_idx=[], target="cuda")
    assert bench.gemm_instruction(kernel.get_kernel_source()) == ("wgmma" if wgmma else "none")
    assert integer_gemm_matches(kernel, M, N, K, "cuda", kw.get("a_dtype", "int8"), kw.get("b_dtype", "int8"),
                                kw.get("trans_B", True), negatable=kw.get("a_fragment", False))


@pytest.mark.gpu
def test_fp8_gemm_with_fragment_a_matches_torch(monkeypatch):
    """The staged fragment A gives bit for bit what the same gemm from a shared A gives (the same wgmmas; fp8
    wgmma accumulates with fewer bits than float32, so torch agrees only to about 1e-2), and both match torch."""
    monkeypatch.setenv("TILEDSL_WGMMA_MORE_TYPES", "1")
    M, N, K = 256, 256, 256
    outs = []
    a = torch.randn(M, K, device="cuda").to(torch.float8_e4m3fn)
    b = torch.randn(N, K, device="cuda").to(torch.float8_e4m3fn)
    for fragment in (False, True):
        kernel = tiledsl.compile(typed_gemm(M, N, K, "float8_e4m3fn", "float8_e4m3fn", a_fragment=fragment,
                                           acc_dtype="float32"), out_idx=[], target="cuda")
        assert bench.gemm_instruction(kernel.get_kernel_source()) == "wgmma"
        assert ("A_f_staged" in kernel.get_kernel_source()) == fragment
        c = torch.full((M, N), float("nan"), device="cuda")
        kernel(a, b, c)
        torch.cuda.synchronize()
        outs.append(c)
    assert torch.equal(outs[0], outs[1])
    torch.testing.assert_close(outs[1], a.float() @ b.float().T, rtol=2e-2, atol=1e-1)


# ---------------------------------------------------------------- int8 on mma.sync (TILEDSL_MMA_INT8=1, opt-in)
MMA_INT8 = {  # name: (arch, M, N, K, kwargs)
    "sm80_two_k_steps": ("sm_80", 256, 256, 256, {"block_K": 64}),
    "sm80_one_warp_column": ("sm_80", 128, 192, 160, {"block_M": 64, "block_N": 64, "block_K": 32, "threads": 128}),
    # a 32-byte k tile: wgmma does not take it (its rows are 64 bytes or whole 128s), mma.sync does
    "sm90a_narrow_k": ("sm_90a", 256, 256, 256, {"block_M": 64, "block_N": 64, "block_K": 32, "threads": 128}),
    "u8_s8": ("sm_80", 128, 128, 128, {"a_dtype": "uint8", "block_K": 32}),
}


@pytest.mark.nvcc
@pytest.mark.parametrize("name", ["sm80_two_k_steps", "sm90a_narrow_k"])
def test_int8_mma_sync_builds_when_switched_on(name, monkeypatch):
    """``mma.sync m16n8k32 .s32.s8.s8.s32`` with ldmatrix fragments, the int32 accumulator as .u32 registers; off
    (the default) the same program takes FMA."""
    arch, M, N, K, kw = MMA_INT8[name]
    func = typed_gemm(M, N, K, **kw)
    target = {"kind": "cuda", "arch": arch}
    assert bench.gemm_instruction(tiledsl.compile(func, out_idx=[], target=target).get_kernel_source()) == "none"
    monkeypatch.setenv("TILEDSL_MMA_INT8", "1")
    src = tiledsl.compile(func, out_idx=[], target=target).get_kernel_source()
    assert "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32" in src and "ldmatrix" in src and "C_f_u32" in src
    assert bench.gemm_instruction(src) == "mma.sync"


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(MMA_INT8))
def test_int8_mma_sync_matches_torch_exactly(name, monkeypatch):
    """(Opt-in, written 2026-12-07 without a GPU lent.) Built for the GPU's own arch, so the sm_90a case runs only
    the narrow-k program there."""
    monkeypatch.setenv("TILEDSL_MMA_INT8", "1")
    arch, M, N, K, kw = MMA_INT8[name]
    kernel = tiledsl.compile(typed_gemm(M, N, K, **kw), out_idx=[], target="cuda")
    # on an sm_90a device the sm_80 forms take wgmma; the narrow k tile takes mma.sync there too
    want = ("mma.sync",) if arch == "sm_90a" else ("mma.sync", "wgmma")
    assert bench.gemm_instruction(kernel.get_kernel_source()) in want
    assert integer_gemm_matches(kernel, M, N, K, "cuda", kw.get("a_dtype", "int8"))


# ---------------------------------------------------------------- 8-bit elementwise code
def byte_elementwise(M, N, dtype="int8", block=(64, 128), threads=128):
    """Y = max(3 - X, 1) on 8-bit integers, through a shared tile and a fragment (16 elements per thread: the
    vector loops would be 8 or 16 lanes wide)."""
    bm, bn = block

    @T.prim_func
    def kernel(X: T.Tensor((M, N), dtype), Y: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, bn), T.ceildiv(M, bm), threads=threads) as (bx, by):
            X_s = T.alloc_shared((bm, bn), dtype)
            Y_f = T.alloc_fragment((bm, bn), dtype)
            T.copy(X[by * bm, bx * bn], X_s)
            for i, j in T.Parallel(bm, bn):
                Y_f[i, j] = T.max(T.Cast(dtype, 3) - X_s[i, j], T.Cast(dtype, 1))
            T.copy(Y_f, Y[by * bm, bx * bn])
    return kernel


def _byte_inputs(M, N, dtype, device):
    low, high = (-100, 100) if dtype == "int8" else (0, 3)  # 3 - x stays in range
    x = torch.randint(low, high, (M, N), dtype=getattr(torch, dtype), device=device)
    return x, torch.clamp(3 - x.long(), min=1).to(x.dtype)


@pytest.mark.nvcc
@pytest.mark.parametrize("arch", ["sm_90a", "sm_80"])
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_byte_arithmetic_with_constants_builds(arch, dtype):
    """TVM prints an 8-bit constant on 8 or 16 lanes as make_int2/make_int4 with one argument per lane, which nvcc
    refused; such loops are 4 lanes wide."""
    src = tiledsl.compile(byte_elementwise(128, 256, dtype), out_idx=[],
                          target={"kind": "cuda", "arch": arch}).get_kernel_source()
    assert "make_int2((signed char)" not in src and "make_uint2((unsigned char)" not in src


def _byte_result_matches(M, N, dtype, target, device):
    kernel = tiledsl.compile(byte_elementwise(M, N, dtype), out_idx=[], target=target)
    x, want = _byte_inputs(M, N, dtype, device)
    y = torch.full_like(x, 77)
    kernel(x, y)
    if device == "cuda":
        torch.cuda.synchronize()
    return torch.equal(y, want)


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_byte_arithmetic_on_cpu(dtype):
    assert _byte_result_matches(128, 256, dtype, "llvm", "cpu")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_byte_arithmetic_on_gpu(dtype):
    assert _byte_result_matches(192, 384, dtype, "cuda", "cuda")


# ---------------------------------------------------------------- fp16 accumulators
@pytest.mark.slow  # two nvcc builds each (scripts/test.sh -m slow)
@pytest.mark.nvcc
@pytest.mark.parametrize("dtype,trans_B", [("float16", False), ("float16", True), ("float8_e4m3fn", True)])
def test_fp16_accumulator_uses_wgmma(dtype, trans_B, monkeypatch):
    func = typed_gemm(256, 256, 256, dtype, dtype, trans_B=trans_B, acc_dtype="float16")
    monkeypatch.setenv("TILEDSL_WGMMA_MORE_TYPES", "0")
    assert bench.gemm_instruction(tiledsl.compile(func, out_idx=[], target=SM90A).get_kernel_source()) == "none"
    monkeypatch.setenv("TILEDSL_WGMMA_MORE_TYPES", "1")
    src = tiledsl.compile(func, out_idx=[], target=SM90A).get_kernel_source()
    name = {"float16": "f16", "float8_e4m3fn": "e4m3"}[dtype]
    assert f"m64n128k{16 if dtype == 'float16' else 32}.f16.{name}.{name}" in src
    assert "C_f_u32" in src  # two fp16 accumulators to a .f16x2 register: a .u32 view of the same registers


FP16_ACC_GPU = {
    # name: (M, N, K, kwargs)
    "f16": (256, 384, 256, {"a_dtype": "float16", "b_dtype": "float16"}),
    "f16_b_k_by_n": (256, 256, 192, {"a_dtype": "float16", "b_dtype": "float16", "trans_B": False}),
    "f16_one_warpgroup": (128, 256, 128, {"a_dtype": "float16", "b_dtype": "float16", "block_M": 64,
                                          "threads": 128}),
    "e4m3": (256, 256, 256, {"a_dtype": "float8_e4m3fn", "b_dtype": "float8_e4m3fn"}),
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(FP16_ACC_GPU))
def test_fp16_accumulator_matches_torch(name, monkeypatch):
    """fp16 accumulation against a float32 product of the same (fp16-representable) inputs: small integers keep
    every partial sum exact in fp16 (|sum| <= 2048), so the comparison is exact."""
    monkeypatch.setenv("TILEDSL_WGMMA_MORE_TYPES", "1")
    M, N, K, kw = FP16_ACC_GPU[name]
    kernel = tiledsl.compile(typed_gemm(M, N, K, acc_dtype="float16", **kw), out_idx=[], target="cuda")
    assert bench.gemm_instruction(kernel.get_kernel_source()) == "wgmma"
    dtype = getattr(torch, kw["a_dtype"])
    a = torch.randint(-2, 3, (M, K), device="cuda").to(dtype)
    b_shape = (N, K) if kw.get("trans_B", True) else (K, N)
    b = torch.randint(-2, 3, b_shape, device="cuda").to(dtype)
    c = torch.full((M, N), float("nan"), device="cuda", dtype=torch.float16)
    kernel(a, b, c)
    torch.cuda.synchronize()
    want = a.float() @ (b.float().T if kw.get("trans_B", True) else b.float())
    assert torch.equal(c.float(), want)
