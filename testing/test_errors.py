"""User mistakes give tiledsl errors that name the mistake (and the user's line for tile programs)."""
import pytest
import torch

import tiledsl
import tiledsl.language as T


@tiledsl.jit(out_idx=[-1], target="llvm")
def bad_copy(M, K, block_M=16, block_K=8):
    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float32"), B: T.Tensor((M, K), "float32")):
        with T.Kernel(T.ceildiv(M, block_M)) as bx:
            A_s = T.alloc_shared((block_M, block_K), "float32")
            T.copy(A[bx * block_M:(bx + 1) * block_M, 0:2 * block_K], A_s)
            T.copy(A_s, B[bx * block_M, 0])
    return kernel


def test_region_shape_mismatch_names_shapes_and_line():
    with pytest.raises(tiledsl.TileProgramError) as info:
        bad_copy(32, 32)
    msg = str(info.value)
    assert "T.copy" in msg and "(16, 16)" in msg and "(16, 8)" in msg
    assert "test_errors.py" in msg  # points at the user's file and line
    assert "A[bx * block_M:(bx + 1) * block_M" in msg


@tiledsl.jit(target="llvm")
def accumulator_in_shared(N=16):
    @T.prim_func
    def kernel(A: T.Tensor((N, N), "float16")):
        with T.Kernel(1):
            A_s = T.alloc_shared((N, N), "float16")
            C_s = T.alloc_shared((N, N), "float32")
            T.copy(A, A_s)
            T.gemm(A_s, A_s, C_s)
    return kernel


def test_gemm_accumulator_in_wrong_scope():
    with pytest.raises(tiledsl.TileProgramError, match="accumulator C C_s is in 'shared.dyn' memory.*alloc_fragment"):
        accumulator_in_shared()


@tiledsl.jit(target="llvm")
def gemm_on_global(N=16):
    @T.prim_func
    def kernel(A: T.Tensor((N, N), "float16"), C: T.Tensor((N, N), "float32")):
        with T.Kernel(1):
            C_f = T.alloc_fragment((N, N), "float32")
            T.gemm(A, A, C_f)
    return kernel


def test_gemm_operand_in_global_memory():
    with pytest.raises(tiledsl.TileProgramError, match="A A is in 'global' memory.*T.alloc_shared"):
        gemm_on_global()


@tiledsl.jit(target="llvm")
def gemm_shapes_disagree(N=16):
    @T.prim_func
    def kernel(A: T.Tensor((N, N), "float16")):
        with T.Kernel(1):
            A_s = T.alloc_shared((N, 8), "float16")
            B_s = T.alloc_shared((16, N), "float16")
            C_f = T.alloc_fragment((N, N), "float32")
            T.gemm(A_s, B_s, C_f)
    return kernel


def test_gemm_shapes_disagree():
    with pytest.raises(tiledsl.TileProgramError, match=r"T.gemm: shapes do not agree.*\(16, 8\).*\(16, 16\)"):
        gemm_shapes_disagree()


@tiledsl.jit(target="llvm")
def symbolic_tile(N=16):
    M = T.dynamic("M")

    @T.prim_func
    def kernel(A: T.Tensor((M, N), "float32")):
        with T.Kernel(1):
            A_s = T.alloc_shared((M, N), "float32")
            T.copy(A, A_s)
    return kernel


def test_non_constant_tile_size():
    with pytest.raises(tiledsl.TileProgramError, match="not constant: extent 0 is `M`"):
        symbolic_tile()


@tiledsl.jit(target="llvm")
def unknown_name(N=16):
    @T.prim_func
    def kernel(A: T.Tensor((N,), "float32")):
        with T.Kernel(1):
            for i in T.Parallel(N):
                A[i] = not_defined_anywhere  # noqa: F821
    return kernel


def test_unknown_name():
    with pytest.raises(tiledsl.TileProgramError, match="Undefined variable: not_defined_anywhere"):
        unknown_name()


@tiledsl.jit(out_idx=[-1], target="llvm")
def add_one(N):
    @T.prim_func
    def kernel(A: T.Tensor((N,), "float32"), B: T.Tensor((N,), "float32")):
        with T.Kernel(1):
            for i in T.Parallel(N):
                B[i] = A[i] + 1.0
    return kernel


def test_wrong_dtype_shape_count_device():
    kernel = add_one(8)
    torch.testing.assert_close(kernel(torch.ones(8)), torch.full((8,), 2.0))
    with pytest.raises(tiledsl.KernelArgumentError, match=r"argument 0 \(A\).*float64.*instead of float32"):
        kernel(torch.ones(8, dtype=torch.float64))
    with pytest.raises(tiledsl.KernelArgumentError, match=r"argument 0 \(A\).*size 9 in dimension 0 instead of 8"):
        kernel(torch.ones(9))
    with pytest.raises(tiledsl.KernelArgumentError, match=r"takes 1 inputs \(A\) but got 2; B is an output"):
        kernel(torch.ones(8), torch.ones(8))
    with pytest.raises(tiledsl.KernelArgumentError, match="non-contiguous"):
        kernel(torch.ones(16)[::2])
    with pytest.raises(tiledsl.KernelArgumentError, match=r"expected a float32 tensor of shape \(8,\), got list"):
        kernel([1.0] * 8)


def test_symbolic_sizes_must_agree():
    N = T.dynamic("N")
    kernel = add_one(N)
    with pytest.raises(tiledsl.KernelArgumentError):
        tiledsl.compile(kernel.prim_func, target="llvm")(torch.ones(4), torch.ones(5))


def test_bad_out_idx_and_target():
    with pytest.raises(tiledsl.CompileError, match="out of range"):
        tiledsl.compile(add_one(8).prim_func, out_idx=[5], target="llvm")
    with pytest.raises(tiledsl.TargetError, match="unknown target"):
        tiledsl.compile(add_one(8).prim_func, target="not-a-target")
    with pytest.raises(tiledsl.TileProgramError, match="must return the function decorated with @T.prim_func"):
        tiledsl.jit(lambda: 42)()


def test_illegal_threads():
    @tiledsl.jit(target="llvm")
    def bad_threads():
        @T.prim_func
        def kernel(A: T.Tensor((4,), "float32")):
            with T.Kernel(1, threads=0):
                A[0] = 1.0
        return kernel

    with pytest.raises(tiledsl.TileProgramError, match="threads=0 must be positive"):
        bad_threads()


@pytest.mark.nvcc
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_kernel_without_gpu_names_kernel_and_arch_shortly():
    @tiledsl.jit(out_idx=[-1], target={"kind": "cuda", "arch": "sm_80"})
    def double(N=64):
        @T.prim_func
        def twice(A: T.Tensor((N,), "float32"), B: T.Tensor((N,), "float32")):
            with T.Kernel(1, threads=64) as _:
                for i in T.Parallel(N):
                    B[i] = A[i] * 2.0
        return twice

    with pytest.raises(tiledsl.TargetError) as info:
        double()(torch.ones(64))
    msg = str(info.value)
    assert msg.startswith("kernel twice was built for CUDA sm_80 and cannot run here: no CUDA GPU")
    assert "{" not in msg and len(msg) < 120


@tiledsl.jit(target="llvm")
def empty_grid(M, block_M=64):
    @T.prim_func
    def kernel(A: T.Tensor((M,), "float32")):
        with T.Kernel(T.ceildiv(M, block_M) - 1, threads=32) as bx:
            for i in T.Parallel(block_M):
                A[bx * block_M + i] = 1.0
    return kernel


def test_a_grid_of_no_blocks_is_refused_at_its_line():
    """CUDA would refuse (or, through TVM's launch, run one block of) a grid with no blocks; the CPU runs none."""
    with pytest.raises(tiledsl.TileProgramError) as info:
        empty_grid(64)
    msg = str(info.value)
    assert "grid extent along x is 0" in msg and "test_errors.py" in msg
