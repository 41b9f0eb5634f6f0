"""TileLang constructs that kernels ported from TileLang use: ``T.alloc_global`` workspaces (and programs launching
several kernels), ``T.Persistent``, ``T.im2col``, ``T.ptr`` tables with ``T.make_tensor``, vectorized loops
declaring scalars, ``tvm.testing``'s markers,
and the tuner's ``early_stop`` / per-config ``pass_configs``. Programs written for these tests (not TileLang's):
each runs on the CPU against torch in float64 (fresh random inputs, outputs and workspaces poisoned with NaN
first), builds for sm_90a with nvcc, and runs on a GPU where there is one (marked ``gpu``)."""
import re

import pytest
import torch

import tiledsl
import tiledsl.language as T
from more_programs import conv_gather, conv_ref
from tiledsl.errors import TileProgramError
from tiledsl.profiler import bind

SM90A = {"kind": "cuda", "arch": "sm_90a"}


def run_checked(kernel, inputs):
    """Run ``kernel`` on ``inputs`` with its outputs and workspaces poisoned first; the outputs."""
    run, outs = bind(kernel, inputs)
    run()
    return outs[0] if len(outs) == 1 else outs


# ---------------------------------------------------------------------------------------------- programs
@tiledsl.jit(out_idx=[-1])
def scale_then_shift(M, N, block=32, dtype="float32"):
    """Two launches through a T.alloc_global workspace: W = 3 * A (tiles in order), B = W - 1 with the tile order
    reversed (so B[i] reads a tile another block of the first launch wrote)."""
    tiles = (M + block - 1) // block

    @T.prim_func
    def main(A: T.Tensor((M, N), dtype), B: T.Tensor((M, N), dtype)):
        W = T.alloc_global((M, N), dtype)
        with T.Kernel(tiles, threads=128) as bx:
            t = T.alloc_fragment((block, N), dtype)
            T.copy(A[bx * block, 0], t)
            for i, j in T.Parallel(block, N):
                t[i, j] = t[i, j] * 3.0
            T.copy(t, W[bx * block, 0])
        with T.Kernel(tiles, threads=128) as bx:
            u = T.alloc_fragment((block, N), dtype)
            T.copy(W[(tiles - 1 - bx) * block, 0], u)
            for i, j in T.Parallel(block, N):
                u[i, j] = u[i, j] - 1.0
            T.copy(u, B[bx * block, 0])
    return main


def ref_scale_then_shift(a, block=32):
    w = a.double() * 3
    return (w.view(-1, block, a.shape[1]).flip(0).reshape(a.shape) - 1)


@tiledsl.jit
def row_sums_split(X, splits=4, block_N=32):
    """Newer style, workspace declared in the header: partial row sums per split, then their sum."""
    M, N = T.const("M, N")
    X: T.Tensor((M, N), T.float32)
    partial = T.alloc_global((splits, M), T.float32)
    Y = T.empty((M,), T.float32)
    with T.Kernel(splits, threads=64) as s:
        x = T.alloc_fragment((M, block_N), T.float32)
        acc = T.alloc_fragment((M,), T.float32)
        part = T.alloc_fragment((M,), T.float32)
        T.clear(acc)
        for k in T.serial(T.ceildiv(N, splits * block_N)):
            T.copy(X[0, (s * T.ceildiv(N, splits * block_N) + k) * block_N], x)
            T.reduce_sum(x, part, dim=1)
            for i in T.Parallel(M):
                acc[i] += part[i]
        T.copy(acc, partial[s, 0:M])
    with T.Kernel(1, threads=64) as _:
        p = T.alloc_fragment((splits, M), T.float32)
        y = T.alloc_fragment((M,), T.float32)
        T.copy(partial, p)
        T.reduce_sum(p, y, dim=0)
        T.copy(y, Y)
    return Y


@tiledsl.jit
def persistent_gemm(A, B, n_blocks=3, group=3, block_M=32, block_N=32, block_K=32, dtype=T.float16):
    """C = A @ B by ``n_blocks`` persistent blocks, each looping over the tiles it owns."""
    M, N, K = T.const("M, N, K")
    A: T.Tensor((M, K), dtype)
    B: T.Tensor((K, N), dtype)
    C = T.empty((M, N), T.float32)
    with T.Kernel(n_blocks, threads=128) as block_id:
        A_s = T.alloc_shared((block_M, block_K), dtype)
        B_s = T.alloc_shared((block_K, block_N), dtype)
        acc = T.alloc_fragment((block_M, block_N), T.float32)
        for bx, by in T.Persistent([T.ceildiv(M, block_M), T.ceildiv(N, block_N)], n_blocks, block_id, group):
            T.clear(acc)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=2):
                T.copy(A[bx * block_M, k * block_K], A_s)
                T.copy(B[k * block_K, by * block_N], B_s)
                T.gemm(A_s, B_s, acc)
            T.copy(acc, C[bx * block_M, by * block_N])
    return C


@tiledsl.jit
def conv_nhwc(data, weight, stride, dilation, pad, block_M=32, block_N=32, block_K=32, dtype=T.float16):
    """A 2-d convolution (NHWC image, (K, K, C, F) filter) as an implicit GEMM over T.im2col tiles."""
    N, C, H, W, F, K = T.const("N, C, H, W, F, K")
    OH = (H + 2 * pad - dilation * (K - 1) - 1) // stride + 1
    OW = (W + 2 * pad - dilation * (K - 1) - 1) // stride + 1
    data: T.Tensor((N, H, W, C), dtype)
    weight: T.Tensor((K, K, C, F), dtype)
    out = T.empty((N, OH, OW, F), T.float32)
    with T.Kernel(T.ceildiv(F, block_N), T.ceildiv(N * OH * OW, block_M), threads=128) as (bx, by):
        patches = T.alloc_shared((block_M, block_K), dtype)
        w_s = T.alloc_shared((block_K, block_N), dtype)
        acc = T.alloc_fragment((block_M, block_N), T.float32)
        w_flat = T.Tensor((K * K * C, F), dtype, weight.data)
        out_flat = T.Tensor((N * OH * OW, F), T.float32, out.data)
        T.clear(acc)
        for k in T.Pipelined(T.ceildiv(K * K * C, block_K), num_stages=2):
            T.im2col(data, patches, by, k, K, stride, dilation, pad)
            T.copy(w_flat[k * block_K, bx * block_N], w_s)
            T.gemm(patches, w_s, acc)
        T.copy(acc, out_flat[by * block_M, bx * block_N])
    return out


@tiledsl.jit(out_idx=[1])
def unpack_int4(N, K, threads=32, per_thread=8):
    """Per-thread int4 unpacking through T.vectorized loops that declare scalars (``index = ...``), as TileLang's
    fine-grained dequantize kernels write it."""
    rounds = N * K // (threads * per_thread)
    packed_per_thread = per_thread // 2

    @T.prim_func
    def main(Q: T.Tensor((N, K // 2), "int8"), D: T.Tensor((N, K), "float16")):
        with T.Kernel(1, threads=threads) as _:
            Q_s = T.alloc_shared((N, K // 2), "int8")
            q = T.alloc_local([packed_per_thread], "int8")
            d = T.alloc_local([per_thread], "float16")
            D_s = T.alloc_shared((N, K), "float16")
            tx = T.get_thread_binding()
            T.copy(Q, Q_s)
            for r in T.serial(rounds):
                for v in T.vectorized(0, packed_per_thread):
                    index = r * threads * packed_per_thread + tx * packed_per_thread + v
                    row = index // (K // 2)
                    col = index % (K // 2)
                    q[v] = Q_s[row, col]
                for v in T.serial(0, per_thread):
                    d[v] = ((q[v // 2] >> (v % 2 * 4).astype("int8")) & T.int8(15)).astype("float16")
                for v in T.vectorized(0, per_thread):
                    index = r * threads * per_thread + tx * per_thread + v
                    row = index // K
                    col = index % K
                    D_s[row, col] = d[v]
            T.copy(D_s, D)
    return main


@tiledsl.jit(out_idx=[])
def grouped_gemm_by_pointers(G, M, K, N, block=32, dtype="float16"):
    """One GEMM per group, each group's tensors reached through tables of addresses (T.ptr, T.make_tensor)."""

    @T.prim_func
    def main(A_ptrs: T.Tensor([G], T.ptr), B_ptrs: T.Tensor([G], T.ptr), C_ptrs: T.Tensor([G], T.ptr)):
        with T.Kernel(G, T.ceildiv(M, block), T.ceildiv(N, block), threads=128) as (g, bm, bn):
            A_s = T.alloc_shared((block, 32), dtype)
            B_s = T.alloc_shared((32, block), dtype)
            acc = T.alloc_fragment((block, block), "float32")
            A = T.make_tensor(A_ptrs[g], (M, K), dtype)
            B = T.make_tensor(B_ptrs[g], (K, N), dtype)
            C = T.make_tensor(C_ptrs[g], (M, N), "float32")
            T.clear(acc)
            for k in T.Pipelined(T.ceildiv(K, 32), num_stages=1):
                T.copy(A[bm * block, k * 32], A_s)
                T.copy(B[k * 32, bn * block], B_s)
                T.gemm(A_s, B_s, acc)
            T.copy(acc, C[bm * block, bn * block])
    return main


def check_grouped_gemm_by_pointers(kernel, device):
    table = lambda ts: torch.tensor([t.data_ptr() for t in ts], dtype=torch.int64, device=device)  # noqa: E731
    As = [torch.randn(64, 64, device=device).half() for _ in range(3)]
    Bs = [torch.randn(64, 96, device=device).half() for _ in range(3)]
    Cs = [torch.full((64, 96), float("nan"), device=device) for _ in range(3)]
    kernel(table(As), table(Bs), table(Cs))
    for a, b, c in zip(As, Bs, Cs):
        torch.testing.assert_close(c.double(), a.double() @ b.double(), rtol=1e-3, atol=1e-3)


def ref_unpack_int4(q):
    u = q.to(torch.uint8)
    return torch.stack((u & 15, u >> 4), -1).reshape(q.shape[0], q.shape[1] * 2).double()


# ---------------------------------------------------------------------------------------------- T.alloc_global
def test_alloc_global_workspace_between_two_launches():
    kernel = scale_then_shift(128, 64)
    assert [p.name for p in kernel.input_params] == ["A"] and [p.name for p in kernel.output_params] == ["B"]
    assert [p.name for p in kernel.workspace_params] == ["W"]
    a = torch.randn(128, 64)
    torch.testing.assert_close(run_checked(kernel, [a]).double(), ref_scale_then_shift(a), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(kernel(a).double(), ref_scale_then_shift(a), rtol=1e-6, atol=1e-6)  # plain call


def test_alloc_global_in_the_header_of_a_newer_style_kernel():
    x = torch.randn(16, 256)
    kernel = row_sums_split.compile(M=16, N=256, target="llvm")
    assert [p.name for p in kernel.workspace_params] == ["partial"]
    torch.testing.assert_close(run_checked(kernel, [x]).double(), x.double().sum(1), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(row_sums_split(x).double(), x.double().sum(1), rtol=1e-5, atol=1e-4)


def test_alloc_global_with_a_dynamic_size():
    @tiledsl.jit(out_idx=[-1])
    def doubled(block=16):
        M = T.dynamic("M")

        @T.prim_func
        def main(A: T.Tensor((M, 8), "float32"), B: T.Tensor((M, 8), "float32")):
            W = T.alloc_global((M, 8), "float32")
            with T.Kernel(T.ceildiv(M, block), threads=32) as bx:
                for i, j in T.Parallel(block, 8):
                    if bx * block + i < M:
                        W[bx * block + i, j] = A[bx * block + i, j] * 2.0
            with T.Kernel(T.ceildiv(M, block), threads=32) as bx:
                for i, j in T.Parallel(block, 8):
                    if bx * block + i < M:
                        B[bx * block + i, j] = W[bx * block + i, j] + A[bx * block + i, j]
        return main

    kernel = doubled()
    for m in (16, 40):
        a = torch.randn(m, 8)
        torch.testing.assert_close(run_checked(kernel, [a]).double(), 3 * a.double(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape, message", [((0, 4), "must be positive"), ((4.5, 4), "must be an int")])
def test_alloc_global_bad_shape_is_a_clear_error(shape, message):
    @tiledsl.jit(out_idx=[-1])
    def bad():
        @T.prim_func
        def main(A: T.Tensor((4, 4), "float32"), B: T.Tensor((4, 4), "float32")):
            W = T.alloc_global(shape, "float32")
            with T.Kernel(1, threads=32) as _:
                for i, j in T.Parallel(4, 4):
                    W[i, j] = A[i, j]
                for i, j in T.Parallel(4, 4):
                    B[i, j] = W[i, j]
        return main

    with pytest.raises(tiledsl.TileProgramError, match=message):
        bad()


# ---------------------------------------------------------------------------------------------- T.Persistent
@pytest.mark.parametrize("m, n, group", [(96, 160, 2), (128, 128, 8), (64, 96, 1)])
def test_persistent_gemm_covers_every_tile_once(m, n, group):
    a, b = torch.randn(m, 64).half(), torch.randn(64, n).half()
    kernel = persistent_gemm.compile(M=m, N=n, K=64, group=group, target="llvm")
    torch.testing.assert_close(run_checked(kernel, [a, b]).double(), a.double() @ b.double(), rtol=1e-3,
                               atol=1e-3)


def test_persistent_bad_domain_is_a_clear_error():
    @tiledsl.jit(out_idx=[-1])
    def bad():
        @T.prim_func
        def main(A: T.Tensor((4,), "float32"), B: T.Tensor((4,), "float32")):
            with T.Kernel(2, threads=32) as b:
                for (i,) in T.Persistent([], 2, b):
                    B[i] = A[i]
        return main

    with pytest.raises(tiledsl.TileProgramError, match="domain must be a non-empty list"):
        bad()


# ---------------------------------------------------------------------------------------------- T.im2col
@pytest.mark.parametrize("stride, dilation, pad", [(1, 1, 1), (2, 1, 0), (1, 2, 2)])
def test_im2col_convolution(stride, dilation, pad):
    x, w = torch.randn(2, 9, 10, 16).half(), torch.randn(3, 3, 16, 24).half()
    kernel = conv_nhwc.compile(N=2, C=16, H=9, W=10, F=24, K=3, stride=stride, dilation=dilation, pad=pad,
                               target="llvm")
    torch.testing.assert_close(run_checked(kernel, [x, w]).double(), conv_ref(x, w, stride, dilation, pad),
                               rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("stride, dilation, pad", [(1, 1, 1), (2, 1, 0)])
def test_gathered_convolution(stride, dilation, pad):
    """TileLang's convolution example as written (a gather loop, flat views, a staged result) on the CPU."""
    x, w = torch.randn(2, 9, 10, 64).half(), torch.randn(3, 3, 64, 32).half()
    kernel = tiledsl.compile(conv_gather(2, 64, 9, 10, 32, 3, stride, dilation, pad), out_idx=[2], target="llvm")
    torch.testing.assert_close(run_checked(kernel, [x, w]).double(), conv_ref(x, w, stride, dilation, pad),
                               rtol=2e-3, atol=2e-2)


@pytest.mark.nvcc
def test_gathered_convolution_builds_on_wgmma(monkeypatch):
    """On sm_90a the gathered convolution's gemm takes wgmma, the gathered tile fenced for the async proxy. (Its
    gather stays scalar: the temporaries become one-element local buffers and the bounds predicate is not proven
    constant over a vector of channels, 2026-12-08.)"""
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    kernel = tiledsl.compile(conv_gather(2, 128, 16, 16, 256, 3, 1, 1, 1, block_M=128, block_N=128, block_K=64,
                                         stages=3, threads=256), out_idx=[2], target={"kind": "cuda", "arch": "sm_90a"})
    src = kernel.get_kernel_source()
    assert "wgmma" in src and "fence.proxy.async" in src


def test_im2col_bad_arguments_are_clear_errors():
    with pytest.raises(tiledsl.TileProgramError, match="dilation=0 must be positive"):
        conv_nhwc.compile(N=1, C=16, H=8, W=8, F=32, K=3, stride=1, dilation=0, pad=1, target="llvm")


# ---------------------------------------------------------------------------------------- scalars in vectorized loops
def test_vectorized_loops_declaring_scalars_unpack_int4():
    q = torch.randint(-128, 128, (16, 32), dtype=torch.int8)
    kernel = unpack_int4(16, 64)
    torch.testing.assert_close(run_checked(kernel, [q]).double(), ref_unpack_int4(q), rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------- T.ptr, T.make_tensor
def test_grouped_gemm_through_pointer_tables():
    kernel = grouped_gemm_by_pointers(3, 64, 64, 96)
    assert [p.dtype for p in kernel.params] == ["int64"] * 3
    check_grouped_gemm_by_pointers(kernel, "cpu")


def test_make_tensor_needs_an_address():
    @tiledsl.jit(out_idx=[])
    def bad():
        @T.prim_func
        def main(A: T.Tensor((4,), "float32")):
            with T.Kernel(1, threads=32) as _:
                X = T.make_tensor(A[0], (4,), "float32")
                X[0] = 1.0
        return main

    with pytest.raises(tiledsl.TileProgramError, match="a pointer table holds int64 addresses"):
        bad()


# ---------------------------------------------------------------------------------------------- tvm.testing
def test_tvm_testing_has_tilelangs_markers():
    from tiledsl import tvm

    mark = tvm.testing.requires_package("surely_not_an_installed_package_xyz")
    assert mark.mark.name == "skipif" and mark.mark.args == (True,)
    assert tvm.testing.requires_package("torch").mark.args == (False,)
    tvm.testing.assert_allclose([1.0, 2.0], [1.0, 2.0])  # TVM's own helper, reached through the same name
    assert tvm.target.Target("llvm").kind.name == "llvm"


# ---------------------------------------------------------------------------------------------- autotuner surface
def test_early_stop_switch_and_factor_are_checked():
    from tiledsl.autotuner.tuner import resolve_early_stop

    assert resolve_early_stop(False, 2.0) == 0 and resolve_early_stop(True, 1.5) == 1.5
    assert resolve_early_stop(None, 2.0) == 2.0
    with pytest.raises(tiledsl.ConfigError, match="early_stop_factor=0.5"):
        tiledsl.autotune(configs=[{}], early_stop=True, early_stop_factor=0.5)
    tuner = tiledsl.AutoTuner.from_kernel(scale_then_shift, [{"block": 32}]).set_profile_args(early_stop=False)
    assert tuner.profile_args.early_stop_factor == 0


def test_tuning_with_per_config_pass_configs_and_early_stop_off(cache_dir):
    configs = [{"block": 32, "pass_configs": {tiledsl.PassConfigKey.TL_DISABLE_WARP_SPECIALIZED: flag}}
               for flag in (True, False)] + [{"block": 16}]
    tuner = tiledsl.AutoTuner.from_kernel(scale_then_shift, configs).set_compile_args(target="llvm")
    tuner.set_kernel_parameters((64, 32)).set_profile_args(ref_prog=lambda a: ref_scale_then_shift(a, 32).float(),
                                                           supply_type=tiledsl.TensorSupplyType.Normal)
    result = tuner.run(warmup=1, rep=2, early_stop=False, quiet=True)
    assert result.summary() == {"ok": 2, "wrong_result": 1}  # block 16 reverses other tiles than ref_prog's
    assert not any(t.early_stopped for t in result.trials)
    assert result.config["block"] == 32 and "pass_configs" in result.config


# ---------------------------------------------------------------------------------------------- nvcc builds
NVCC_CASES = {
    "alloc_global_two_launches": lambda: tiledsl.compile(scale_then_shift.get_tir(128, 64), out_idx=[-1],
                                                         target=SM90A),
    "alloc_global_header": lambda: row_sums_split.compile(M=16, N=256, target=SM90A),
    "persistent_gemm": lambda: persistent_gemm.compile(M=96, N=160, K=64, group=2, target=SM90A),
    "im2col_conv": lambda: conv_nhwc.compile(N=2, C=64, H=16, W=16, F=64, K=3, stride=1, dilation=1, pad=1,
                                             target=SM90A),
    "unpack_int4": lambda: tiledsl.compile(unpack_int4.get_tir(16, 64), out_idx=[1], target=SM90A),
    "pointer_tables": lambda: tiledsl.compile(grouped_gemm_by_pointers.get_tir(3, 64, 64, 96), out_idx=[],
                                              target=SM90A),
}


@pytest.mark.nvcc
@pytest.mark.parametrize("name", sorted(NVCC_CASES))
def test_builds_for_sm90a(name):
    source = NVCC_CASES[name]().get_kernel_source()
    assert "__global__" in source
    if name == "alloc_global_two_launches":
        assert {"main_kernel(", "main_kernel_1("} <= set(re.findall(r"\w+\(", source))  # a kernel per launch


# ---------------------------------------------------------------------------------------------- GPU runs
@pytest.mark.gpu
def test_gpu_alloc_global_and_persistent():
    a = torch.randn(128, 64, device="cuda")
    kernel = tiledsl.compile(scale_then_shift.get_tir(128, 64), out_idx=[-1], target="auto")
    torch.testing.assert_close(run_checked(kernel, [a]).double(), ref_scale_then_shift(a), rtol=1e-6, atol=1e-6)
    x = torch.randn(16, 256, device="cuda")
    torch.testing.assert_close(row_sums_split(x).double(), x.double().sum(1), rtol=1e-5, atol=1e-4)
    p, q = torch.randn(96, 64, device="cuda").half(), torch.randn(64, 160, device="cuda").half()
    kernel = persistent_gemm.compile(M=96, N=160, K=64, group=2, target="auto")
    torch.testing.assert_close(run_checked(kernel, [p, q]).double(), p.double() @ q.double(), rtol=1e-3,
                               atol=1e-3)


@pytest.mark.gpu
def test_gpu_im2col_and_int4_unpack():
    x, w = torch.randn(2, 16, 16, 64, device="cuda").half(), torch.randn(3, 3, 64, 64, device="cuda").half()
    kernel = conv_nhwc.compile(N=2, C=64, H=16, W=16, F=64, K=3, stride=1, dilation=1, pad=1, target="auto")
    torch.testing.assert_close(run_checked(kernel, [x, w]).double(), conv_ref(x, w, 1, 1, 1), rtol=1e-2, atol=1e-2)
    q = torch.randint(-128, 128, (16, 32), dtype=torch.int8, device="cuda")
    kernel = tiledsl.compile(unpack_int4.get_tir(16, 64), out_idx=[1], target="auto")
    torch.testing.assert_close(run_checked(kernel, [q]).double(), ref_unpack_int4(q), rtol=0, atol=0)


@pytest.mark.gpu
def test_gpu_grouped_gemm_through_pointer_tables():
    kernel = tiledsl.compile(grouped_gemm_by_pointers.get_tir(3, 64, 64, 96), out_idx=[], target="auto")
    check_grouped_gemm_by_pointers(kernel, "cuda")


# ---------------------------------------------------------------------------------------------- T.clamp
@tiledsl.jit
def scale_and_clamp(x, lo: float = -2.0, hi: float = 1.5, block=64):
    """``T.clamp`` of a scaled value, cast on store (the shape of TileLang's per-token fp8 casts)."""
    N = T.const("N")
    x: T.Tensor((N,), T.float32)
    y = T.empty((N,), T.float32)
    with T.Kernel(T.ceildiv(N, block), threads=64) as bx:
        for i in T.Parallel(block):
            y[bx * block + i] = T.clamp(x[bx * block + i] * 3.0, lo, hi)
    return y


def test_clamp_limits_values_to_the_range():
    x = torch.randn(256)
    y = scale_and_clamp(x)
    torch.testing.assert_close(y.double(), (x.double() * 3).clamp(-2.0, 1.5), rtol=1e-6, atol=1e-6)
    assert (y == -2.0).any() and (y == 1.5).any()  # the inputs reach both limits


# ---------------------------------------------------------------------------------------------- T.reshape / T.view
@tiledsl.jit
def flat_views(x, block=64):
    """A 2-d tensor read and written through flat ``T.reshape`` views, and its bits through a ``T.view``."""
    M, N = T.const("M, N")
    x: T.Tensor((M, N), T.float32)
    y = T.empty((M, N), T.float32)
    bits = T.empty((M, N), T.int32)
    with T.Kernel(T.ceildiv(M * N, block), threads=64) as bx:
        x_flat = T.reshape(x, (M * N,))
        y_flat = T.reshape(y, [M * N])
        x_bits = T.view(x, shape=(M * N,), dtype=T.int32)
        bits_flat = T.view(bits, (M * N,))
        for i in T.Parallel(block):
            y_flat[bx * block + i] = x_flat[bx * block + i] * 2.0
            bits_flat[bx * block + i] = x_bits[bx * block + i]
    return y, bits


def test_reshape_and_view_of_global_tensors():
    x = torch.randn(8, 32)
    y, bits = flat_views(x)
    torch.testing.assert_close(y.double(), 2 * x.double(), rtol=0, atol=0)
    assert torch.equal(bits, x.view(torch.int32))


def test_reshape_refuses_on_chip_tiles_and_other_sizes():
    @tiledsl.jit
    def reshapes_a_shared_tile(x):
        M, N = T.const("M, N")
        x: T.Tensor((M, N), T.float32)
        with T.Kernel(1, threads=32):
            tile = T.alloc_shared((M, N), T.float32)
            T.reshape(tile, (M * N,))

    @tiledsl.jit
    def reshapes_to_more_elements(x):
        M, N = T.const("M, N")
        x: T.Tensor((M, N), T.float32)
        with T.Kernel(1, threads=32):
            T.reshape(x, (M * N + 1,))

    x = torch.randn(8, 32)
    with pytest.raises(TileProgramError, match="T.reshape of the shared.dyn tile tile is not supported"):
        reshapes_a_shared_tile(x)
    with pytest.raises(TileProgramError, match=r"not the same number of bytes as \(257,\)"):
        reshapes_to_more_elements(x)
