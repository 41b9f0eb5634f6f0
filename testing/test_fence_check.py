"""fence_check.unfenced_wgmma_reads on small hand-written kernels (CPU): what it flags and what it accepts."""
from fence_check import FENCE, unfenced_wgmma_reads

WGMMA = ("tvm_builtin_ptx_wgmma_f16_ss_mma_async_sync_aligned_m64n64k16_f32_f16_f16_1_1_0_0(acc[0], "
         "desc(cvta_generic_to_shared((&(A_s[0])))), desc(cvta_generic_to_shared((&(B_s[k * 64])))), (bool)1);")
TMA = "tma_load(cvta_generic_to_shared((&(B_s[0]))), map, k);"


def kernel(before: str, loop: str) -> str:
    return ('extern "C" __global__ void k(half* A_ptr) {\n' + before +
            "\n  for (int k = 0; k < 8; ++k) {\n" + loop + "\n  }\n}\n")


def test_a_store_in_the_iteration_needs_a_fence_before_the_wgmma():
    store = "*(half2*)(A_s + (threadIdx.x * 2)) = v;"
    assert unfenced_wgmma_reads(kernel("", f"{TMA}\n{store}\n__syncthreads();\n{WGMMA}")) == ["A_s"]
    assert unfenced_wgmma_reads(kernel("", f"{TMA}\n{store}\n{FENCE}\n__syncthreads();\n{WGMMA}")) == []


def test_a_store_after_the_wgmma_is_read_by_the_next_iteration():
    store = "A_s[threadIdx.x] = x;"
    assert unfenced_wgmma_reads(kernel("", f"{TMA}\n{WGMMA}\n{store}")) == ["A_s"]
    assert unfenced_wgmma_reads(kernel("", f"{TMA}\n{FENCE}\n{WGMMA}\n{store}")) == []


def test_a_store_before_the_loop_and_tiles_only_tma_writes():
    store = "A_s[threadIdx.x] = A_ptr[threadIdx.x];"
    assert unfenced_wgmma_reads(kernel(store, f"{TMA}\n{WGMMA}")) == ["A_s"]
    assert unfenced_wgmma_reads(kernel(f"{store}\n{FENCE}\n__syncthreads();", f"{TMA}\n{WGMMA}")) == []


def test_reads_and_comparisons_are_not_stores():
    reads = "float y = A_s[threadIdx.x];\nif (A_s[0] == y) { z = *(half2*)(A_s + 2); }"
    assert unfenced_wgmma_reads(kernel("", f"{TMA}\n{reads}\n{WGMMA}")) == []
