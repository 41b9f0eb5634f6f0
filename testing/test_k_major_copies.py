"""8-bit gemm operands stored MN-major (B as [K, N], A as [K, M]) copied K-major for wgmma (``KMajorCopies``,
``passes/cuda/k_major_copies.py``; ``TILEDSL_K_MAJOR_COPIES=0`` leaves them on FMA).

CPU (LLVM): the rewritten program (the pass run for sm_90a, then built for the CPU) is exact against torch, so the
copy nest and the flipped gemm compute what the program says; the block copy (``transpose_copy.py``) touches 32
banks per warp instruction in the tiles' real layouts. nvcc: the gemm runs on ``wgmma ... .s8.s8`` from the copy
(made in 4 x 4 byte blocks), with TMA loads and a producer warpgroup, and with the switch off on FMA. GPU: every
form exactly equal to torch's integer product; fp8 against torch.
"""
import pytest
import torch
import tvm

import tiledsl

import general_programs as bench
from test_wgmma_more_types import integer_gemm_matches, typed_gemm

SM90A = {"kind": "cuda", "arch": "sm_90a"}

pytestmark = pytest.mark.usefixtures("general_passes_only")


def mn_major_gemm(M, N, K, dtype="int8", trans_A=False, trans_B=False, b_dtype=None, **kw):
    """C = A @ B with A stored [K, M] (``trans_A``) or [M, K] and B stored [N, K] (``trans_B``) or [K, N]
    (``test_wgmma_more_types.typed_gemm``; ``kw``: its tile config, ``acc_dtype``, ``pipelined``)."""
    return typed_gemm(M, N, K, dtype, b_dtype or dtype, trans_B=trans_B, trans_A=trans_A, **kw)


def exact_on(kernel, M, N, K, device, dtype="int8", trans_A=False, trans_B=False, b_dtype=None):
    """The integer kernel exact against torch on fresh inputs spanning the 8-bit range, its output poisoned."""
    return integer_gemm_matches(kernel, M, N, K, device, dtype, b_dtype or dtype, trans_B, trans_A=trans_A)


def _rewritten(func):
    """``func`` after KMajorCopies for sm_90a (the pass alone)."""
    from tiledsl.passes.cuda.k_major_copies import KMajorCopies
    with tvm.target.Target(SM90A):
        return KMajorCopies(tvm.IRModule({"main": func}))["main"]


FORMS = {  # name: (kwargs of mn_major_gemm, M, N, K)
    "b_k_by_n": ({}, 64, 48, 192),
    "a_k_by_m": ({"trans_A": True, "trans_B": True}, 64, 48, 128),
    "both": ({"trans_A": True}, 64, 48, 128),
    "uint8_not_pipelined": ({"dtype": "uint8", "pipelined": False}, 64, 32, 128),
}


@pytest.mark.parametrize("name", sorted(FORMS))
def test_rewritten_program_is_exact_on_cpu(name):
    kw, M, N, K = FORMS[name]
    small = dict(block_M=64, block_N=32 if N % 32 == 0 else 16, block_K=64, threads=128)  # 8-bit: 64-byte rows
    func = mn_major_gemm(M, N, K, **kw, **small)
    new = _rewritten(func)
    script = new.script()
    copies = script.count("_kmajor = T.alloc_buffer")
    assert copies == (kw.get("trans_A", False) + (not kw.get("trans_B", False)))
    assert "transpose_A\": False" in script and "transpose_B\": True" in script
    kernel = tiledsl.compile(new, out_idx=[], target="llvm")
    assert exact_on(kernel, M, N, K, "cpu", kw.get("dtype", "int8"), kw.get("trans_A", False),
                    kw.get("trans_B", False))


def test_k_major_operands_and_16_bit_gemms_are_left_alone():
    for func in (mn_major_gemm(256, 256, 256, trans_B=True), mn_major_gemm(256, 256, 256, "float16",
                                                                           acc_dtype="float32")):
        assert "_kmajor" not in _rewritten(func).script()


@pytest.mark.nvcc
def test_b_k_by_n_runs_on_wgmma_from_the_copy():
    from tiledsl.passes.cuda import transpose_copy
    src = tiledsl.compile(mn_major_gemm(256, 256, 256), out_idx=[], target=SM90A).get_kernel_source()
    assert "m64n128k32.s32.s8.s8" in src and "B_s_kmajor" in src
    assert transpose_copy.HELPER + "(" in src  # the copy in 4 x 4 byte blocks
    assert bench.copy_instruction(src) == "tma" and "setmaxnreg" in src  # TMA ring, producer warpgroup


@pytest.mark.nvcc
def test_switched_off_keeps_fma(monkeypatch):
    monkeypatch.setenv("TILEDSL_K_MAJOR_COPIES", "0")
    src = tiledsl.compile(mn_major_gemm(256, 256, 256), out_idx=[], target=SM90A).get_kernel_source()
    assert bench.gemm_instruction(src) == "none"


GPU_FORMS = {  # name: (kwargs, M, N, K)
    "b_k_by_n": ({}, 256, 384, 512),
    "b_k_by_n_128_k": ({"block_K": 128, "stages": 4}, 256, 256, 512),
    "a_k_by_m": ({"trans_A": True, "trans_B": True}, 256, 256, 320),
    "both": ({"trans_A": True}, 256, 256, 256),
    "uint8_int8": ({"dtype": "uint8", "b_dtype": "int8"}, 256, 256, 256),
    "ragged": ({}, 200, 136, 160),
    "one_warpgroup": ({"block_M": 64, "threads": 128}, 128, 256, 256),
    "not_pipelined": ({"pipelined": False}, 256, 256, 192),
    # 48-column B tiles: the copy is not a whole number of 32-row warp pieces, so it runs element by element
    "element_copy": ({"block_M": 64, "block_N": 48, "threads": 128}, 128, 96, 256),
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(GPU_FORMS))
def test_mn_major_8bit_gemm_matches_torch_exactly(name):
    kw, M, N, K = GPU_FORMS[name]
    kernel = tiledsl.compile(mn_major_gemm(M, N, K, **kw), out_idx=[], target="cuda")
    assert bench.gemm_instruction(kernel.get_kernel_source()) == "wgmma"
    assert exact_on(kernel, M, N, K, "cuda", kw.get("dtype", "int8"), kw.get("trans_A", False),
                    kw.get("trans_B", False), kw.get("b_dtype"))


@pytest.mark.gpu
def test_fp8_gemm_with_b_k_by_n_matches_torch():
    """fp8 e4m3 with B stored [K, N] (a weight-gradient GEMM's layout) against the same gemm with B [N, K]: the same
    wgmmas on the same values, so bit for bit; both near torch's float32 product."""
    M, N, K = 256, 256, 512
    a = torch.randn(M, K, device="cuda").to(torch.float8_e4m3fn)
    b = torch.randn(K, N, device="cuda").to(torch.float8_e4m3fn)
    outs = []
    for trans_B, b_in in ((False, b), (True, b.T.contiguous())):
        kernel = tiledsl.compile(mn_major_gemm(M, N, K, "float8_e4m3fn", trans_B=trans_B, acc_dtype="float32"),
                                 out_idx=[], target="cuda")
        assert bench.gemm_instruction(kernel.get_kernel_source()) == "wgmma"
        c = torch.full((M, N), float("nan"), device="cuda")
        kernel(a, b_in, c)
        torch.cuda.synchronize()
        outs.append(c)
    assert torch.equal(outs[0], outs[1])
    torch.testing.assert_close(outs[0], a.float() @ b.float(), rtol=2e-2, atol=1e-1)


@pytest.mark.parametrize("R,C", [(128, 64), (128, 128), (256, 128), (64, 64), (64, 128)])
def test_block_copy_has_no_bank_conflicts(R, C):
    """Each 4-byte load and store instruction of a warp of the block copy (``transpose_copy.py``) touches 32
    different banks, with both tiles in their real (128- or 64-byte swizzled) layouts: the wavefronts counted from
    the layouts' own offset functions and the lowering's own lane rotations."""
    from tvm.sym import Analyzer
    from tiledsl.passes.cuda import transpose_copy
    from tiledsl.passes.cuda.smem_swizzle import wgmma_tile

    dst = tvm.tirx.decl_buffer((R, C), "int8", "dst", scope="shared.dyn")
    src = tvm.tirx.decl_buffer((C, R), "int8", "src", scope="shared.dyn")
    lay_dst, lay_src = wgmma_tile(dst), wgmma_tile(src)
    simplify = Analyzer().simplify

    def byte_at(lay, buf, row, col):
        cols = int(buf.ty.shape[1])
        return int(simplify(lay.offset(buf, tvm.tirx.const(row * cols + col, "int32"))))

    def wavefronts(addresses):
        words = {}
        for a in addresses:
            words.setdefault(a // 4 % 32, set()).add(a // 4)
        return max(len(w) for w in words.values())

    for piece in range((R // 32) * (C // 16)):
        for step in range(4):
            reads, writes = [], []
            for lane in range(32):
                q, b = lane % 4, lane // 4
                s, s2 = transpose_copy.lane_rotations(q, b, lay_src.swizzle_bytes)
                row0 = piece // (C // 16) * 32 + 4 * b
                col0 = piece % (C // 16) * 16 + 4 * q
                reads.append(byte_at(lay_src, src, col0 + (step + s) % 4, row0))
                writes.append(byte_at(lay_dst, dst, row0 + (step + s2) % 4, col0))
            assert wavefronts(reads) == 1 and wavefronts(writes) == 1, (piece, step)
