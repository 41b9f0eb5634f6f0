"""CUDA compile-only tests (no GPU needed): every example program lowers to CUDA and nvcc builds it."""
import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.codegen import nvcc
from tiledsl.errors import CompileError, CompileTimeoutError, TileProgramError

from test_cuda_programs import cases, col_reduce, elementwise_add, gemm, softmax

ARCHS = ["sm_80", "sm_90a"]


@pytest.fixture(autouse=True)
def _generic_lowering(monkeypatch):
    """Test the generic CUDA lowering (the Hopper whole-kernel GEMM has its own tests)."""
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")


def _source(func, arch="sm_90a", **kw):
    kernel = tiledsl.compile(func, target={"kind": "cuda", "arch": arch}, **kw)
    return kernel.get_kernel_source()


@pytest.mark.nvcc
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("name", sorted(cases()))
def test_builds_with_nvcc(name, arch):
    src = _source(cases()[name].func, arch, out_idx=[])
    assert "__global__" in src
    assert "tiledsl." not in src.split("__global__", 1)[1]  # no tile op (tiledsl.copy, ...) reached the code generator


@pytest.mark.nvcc
def test_vectorized_coalesced_loads_and_block_reduction():
    src = _source(softmax(64, 1024))
    assert "float4" in src  # 16-byte loads of the row
    assert src.count("__shfl_xor_sync") == 10  # 5 butterfly steps for each of the two reductions
    assert "__syncthreads()" in src


@pytest.mark.nvcc
def test_ragged_tile_is_guarded_and_aligned_tile_vectorized():
    ragged = _source(elementwise_add(100, 300))
    aligned = _source(elementwise_add(128, 512))
    assert "< 300" in ragged or "< 75" in ragged or "< 37" in ragged  # the column edge is checked
    assert "float4" not in ragged
    assert "float4" in aligned and "if (" not in aligned.split("__global__", 2)[2]


@pytest.mark.nvcc
def test_gemm_uses_tensor_cores_and_a_cp_async_pipeline():
    src = _source(gemm(256, 256, 256, block_M=128, block_N=128, block_K=32, num_stages=3), "sm_80", out_idx=[-1])
    body = src.split("__global__", 2)[2]
    assert "ldmatrix_sync_aligned_m8n8_x4_shared_b16(" in body and "ldmatrix_sync_aligned_m8n8_x4_trans" in body
    assert body.count("mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(") == 64  # 2 k-steps x 32 tiles (unrolled)
    assert "cp_async_cg" in body and "wait_group_1" in body  # 3 stages: wait until 1 group remains in flight
    loop = body.split("for (int ko_p", 1)[1].split("wait_group_0", 1)[0]
    assert loop.count("__syncthreads()") == 1  # one barrier per k-iteration
    assert "^" in body  # the bank-conflict swizzle of the shared tiles
    assert "C_f_ptr[128]" in body  # 128x128 fp32 accumulator over 128 threads stays in registers


@pytest.mark.nvcc
def test_skinny_warp_tiles_keep_tensor_cores():
    """16 x 64 over 8 warps: each warp's tile is 16 x 8, one mma.sync per k step with B read by ldmatrix .x2."""
    src = _source(gemm(64, 128, 64, block_M=16, block_N=64, block_K=32, threads=256), out_idx=[-1])
    body = src.split("__global__", 2)[2]
    assert "ldmatrix_sync_aligned_m8n8_x2_trans_shared_b16(" in body and "ldmatrix_sync_aligned_m8n8_x4_trans" not in body
    assert body.count("mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(") == 2  # 2 k-steps x 1 tile (unrolled)
    assert "C_f_ptr[4]" in body
    nvcc.compile_cubin(src, "sm_90a")


@pytest.mark.nvcc
def test_fp32_gemm_falls_back_to_fma():
    src = _source(gemm(64, 64, 64, block_M=32, block_N=32, block_K=16, dtype="float32"), out_idx=[-1])
    assert "mma_sync" not in src and "__global__" in src


@pytest.mark.nvcc
def test_tile_atomic_add():
    src = _source(col_reduce(128, 64), out_idx=[])
    assert "atomicAdd" in src


def test_fragment_with_two_incompatible_roles_is_a_tile_program_error():
    @T.prim_func
    def bad(A: T.Tensor((64, 32), "float16"), B: T.Tensor((32, 64), "float16"), C: T.Tensor((64, 64), "float32")):
        with T.Kernel(1, threads=128) as bx:
            A_s = T.alloc_shared((64, 32), "float16")
            B_s = T.alloc_shared((32, 64), "float16")
            acc = T.alloc_fragment((64, 64), "float32")
            T.copy(A, A_s)
            T.copy(B, B_s)
            T.gemm(A_s, B_s, acc, clear_accum=True)
            for i, j in T.Parallel(64, 64):
                C[i, j] = acc[j, i]  # a transposed read needs every element in every thread
    with pytest.raises(TileProgramError, match="fragment acc"):
        tiledsl.compile(bad, target={"kind": "cuda", "arch": "sm_90a"})


@pytest.mark.nvcc
def test_transposed_fragment_read_makes_it_replicated():
    @T.prim_func
    def transpose(A: T.Tensor((16, 16), "float32"), B: T.Tensor((16, 16), "float32")):
        with T.Kernel(1, threads=64) as bx:
            f = T.alloc_fragment((16, 16), "float32")
            T.copy(A, f)
            for i, j in T.Parallel(16, 16):
                B[i, j] = f[j, i]
    src = _source(transpose)
    assert "float f_ptr[256]" in src  # every thread holds the whole (replicated) fragment


@pytest.mark.nvcc
def test_nvcc_error_is_a_compile_error():
    with pytest.raises(CompileError, match="error"):
        nvcc.run_nvcc("__global__ void k() { undefined_thing(); }", "sm_80")


# a kernel whose 64 live floats cannot stay in 24 registers: ptxas spills them
_PRESSURE = """
extern "C" __global__ void pressure(const float* x, float* y) {
  float v[64];
  for (int i = 0; i < 64; ++i) v[i] = x[threadIdx.x * 64 + i] * (i + 1);
  float s = 0.0f;
  for (int r = 0; r < 8; ++r)
    for (int i = 0; i < 64; ++i) { v[i] = v[i] * v[(i + r) % 64] + 1.0f; s += v[i]; }
  y[threadIdx.x] = s;
}
"""


@pytest.mark.nvcc
def test_resource_usage_names_registers_and_spills(tmp_path, monkeypatch):
    """nvcc's --resource-usage report, parsed per kernel: registers, and the bytes spilled when a register cap
    forces it; the report comes back from the cubin cache too."""
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(tmp_path))
    roomy = nvcc.build_cubin(_PRESSURE, "sm_80").resources["pressure"]
    assert roomy["registers"] > 24 and roomy["spill_stores"] == 0
    capped = nvcc.build_cubin(_PRESSURE, "sm_80", ["-maxrregcount=24"]).resources["pressure"]
    assert capped["registers"] <= 24 and capped["spill_stores"] > 0 and capped["spill_loads"] > 0
    assert nvcc.build_cubin(_PRESSURE, "sm_80", ["-maxrregcount=24"]).resources == {"pressure": capped}  # cached


def test_resource_report_lines_it_does_not_know_are_skipped():
    report = ("ptxas info    : Compiling entry function 'k' for 'sm_90a'\n"
              "ptxas info    : Function properties for k\n"
              "    8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads\n"
              "ptxas info    : Used 40 registers, used 1 barriers, 8 bytes cumulative stack size\n"
              "some future line\nptxas info    : Compiling entry function 'unreported' for 'sm_90a'\n")
    assert nvcc.parse_resource_usage(report) == {
        "k": {"registers": 40, "spill_stores": 4, "spill_loads": 4, "stack_frame": 8}}


def test_ptxas_performance_notes_are_kept_per_kernel():
    report = ("ptxas info    : (C7508) Potential Performance Loss: 'setmaxnreg' ignored; unable to determine "
              "register count at entry.\n"
              "ptxas info    : Compiling entry function 'a' for 'sm_90a'\n"
              "ptxas info    : (C7519) warpgroup.arrive is injected in around line 613 by compiler to allow use of "
              "registers in GMMA in function 'a'\n"
              "ptxas info    : (C7520) Potential Performance Loss: wgmma.mma_async instructions are serialized due "
              "to program dependence on compiler-inserted WG.AR in divergent path in the function 'a'\n"
              "ptxas info    : Used 50 registers\n"
              "ptxas info    : Compiling entry function 'b' for 'sm_90a'\n"
              "ptxas info    : Used 20 registers\n")
    usage = nvcc.parse_resource_usage(report)
    assert usage["a"]["ptxas_notes"] == ["7508", "7519", "7520"] and usage["b"]["ptxas_notes"] == ["7508"]
    assert usage["a"]["registers"] == 50


@pytest.mark.nvcc
def test_nvcc_timeout(monkeypatch):
    monkeypatch.setenv("TILEDSL_NVCC_TIMEOUT", "0.001")
    with pytest.raises(CompileTimeoutError, match="TILEDSL_NVCC_TIMEOUT"):
        nvcc.run_nvcc("__global__ void k() {}", "sm_80")


def test_bad_arch():
    with pytest.raises(CompileError, match="sm_XX"):
        nvcc.gencode_flag("ampere")
    assert nvcc.gencode_flag("sm_90a") == "-gencode=arch=compute_90a,code=sm_90a"


@pytest.mark.nvcc
def test_cubin_cache_hit(tmp_path, monkeypatch):
    monkeypatch.setenv("TILEDSL_CACHE_DIR", str(tmp_path))
    src = "__global__ void k(float* x) { x[threadIdx.x] = 1.0f; }"
    first = nvcc.compile_cubin(src, "sm_80")
    key = nvcc.cubin_key(src, "sm_80")
    assert nvcc.cubin_store().get(key) is not None
    calls = []
    monkeypatch.setattr(nvcc, "_run_nvcc", lambda *a, **k: calls.append(a))
    assert nvcc.compile_cubin(src, "sm_80") == first and not calls


def test_nvcc_failures_show_ptxas_fatal_causes_with_a_hint():
    """ptxas reports too few registers per thread (a 256 x 256 accumulator over 512 threads, sm_90a, 2026-12-07)
    on a ``fatal`` line; the error keeps that line, not only the one saying the assembly was aborted."""
    from tiledsl.codegen.nvcc import _error_excerpt

    stderr = ("/tmp/kernel.cu(1044): warning #174-D: expression has no effect\n\n"
              "ptxas fatal   : (C7602) Insufficient registers (128) to compile instruction at line 1455 in function "
              "kernel_kernel. Try to compile with register target of 154 or higher.\n"
              "ptxas fatal   : Ptx assembly aborted due to errors\n")
    text = _error_excerpt(stderr)
    assert "Insufficient registers (128)" in text and "fewer threads per block" in text and "warning" not in text


def test_a_kernel_whose_wgmmas_ptxas_serialized_is_named_in_the_log(caplog):
    from tiledsl.codegen.compile import _log_serialized_wgmma

    with caplog.at_level("INFO", logger="tiledsl.codegen.compile"):
        _log_serialized_wgmma({"fine": {"registers": 40, "ptxas_notes": ["7508"]},
                               "slow": {"registers": 50, "ptxas_notes": ["7508", "7519", "7520"]}})
    assert len(caplog.records) == 1 and "kernel slow" in caplog.text and "C7519, C7520" in caplog.text


_PUT_PAIR = "__device__ __forceinline__ void tiledsl_test_put_pair(float* p) { p[0] = 1.0f; p[1] = 2.0f; }\n"


def _pair_helper_kernel():
    """A shared (3, 2048) buffer named only through ``address_of`` handed to a helper that writes two floats."""
    from tvm.script import tirx as TS

    @TS.prim_func
    def kernel(A: TS.Buffer((256,), "float32")):
        tx = TS.launch_thread("threadIdx.x", 256)
        S = TS.alloc_buffer((3, 2048), "float32", scope="shared")
        for o in TS.unroll(3):
            TS.cuda.func_call("tiledsl_test_put_pair", TS.address_of(S[o, tx * 2]), source_code=_PUT_PAIR)
        A[tx] = S[0, 0]
    return kernel


@pytest.mark.nvcc
def test_a_buffer_named_through_address_of_keeps_its_shape(monkeypatch):
    """TVM's CompactBufferAllocation takes ``address_of(S[o, 2 t])`` for one element and shrinks the buffer to the
    elements so named (1533 floats, row stride 511: the helper's second float of each row's last pair lands in the
    next row, the last one past the buffer). Every build leaves the pass out (``compile.DISABLED_TVM_PASSES``)."""
    from tiledsl.codegen import compile as compile_module

    monkeypatch.setenv("TILEDSL_DISABLE_CACHE", "1")
    src = _source(_pair_helper_kernel(), out_idx=[])
    assert "float S_ptr[6144];" in src and "(((int)threadIdx.x) * 2) + 4096)" in src
    monkeypatch.setattr(compile_module, "DISABLED_TVM_PASSES", [])  # TVM 0.27.0's pipeline as it is
    tiledsl.runtime.compiler.clear_memory_cache()
    assert "float S_ptr[1533];" in _source(_pair_helper_kernel(), out_idx=[])
