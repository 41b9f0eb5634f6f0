"""``T.alloc_reducer`` / ``T.finalize_reducer`` (TileLang's cross-thread reducers), with programs written for these
tests: a GEMV like TileLang's, row max / min (op="max"/"min", replication "all" and "none", a fill value as seed),
2-d reducers (summing over a leading and over a trailing loop dimension, and one indexed transposed), a one-element
total, one reducer updated by two loops, a reducer reopened in every iteration of a loop, one updated at every loop
index, an int32 count, one fed by a T.gemm accumulator, reducers indexed by a T.serial variable around the
T.Parallel, and TileLang's newer form (T.reducer_init / T.reducer_update / T.finalize_reducer into a fragment).
Each runs on the CPU against torch in float64 (fresh random non-zero inputs, outputs poisoned with NaN), builds for
sm_80 and sm_90a with nvcc (marked ``nvcc``) and runs on a GPU (marked ``gpu``). Mistakes are TileProgramErrors at
the user's line.
"""
import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.errors import TileProgramError

from conftest import poisoned_like

ARCHS = [{"kind": "cuda", "arch": "sm_80"}, {"kind": "cuda", "arch": "sm_90a"}]
F32 = "float32"


def rand(*shape, dtype=torch.float32):
    """Random non-zero values."""
    x = torch.randn(*shape, dtype=torch.float32)
    x = torch.where(x.abs() < 1e-3, torch.full_like(x, 0.5), x)
    return x.to(dtype)


# ---------------------------------------------------------------------------------------------- programs
def gemv(M, N, block_M=32, block_N=32, threads=64, replication="all", dtype="float16"):
    """o = a @ x, each block's rows reduced by a sum reducer over pipelined tiles of a (TileLang's GEMV form)."""
    @T.prim_func
    def main(a: T.Tensor((M, N), dtype), x: T.Tensor((N,), dtype), o: T.Tensor((M,), F32)):
        with T.Kernel(T.ceildiv(M, block_M), threads=threads) as bm:
            acc = T.alloc_reducer(block_M, F32, replication=replication)
            T.clear(acc)
            for kn in T.Pipelined(T.ceildiv(N, block_N), num_stages=2):
                a_s = T.alloc_shared((block_M, block_N), dtype)
                T.copy(a[bm * block_M, kn * block_N], a_s)
                a_f = T.alloc_fragment((block_M, block_N), dtype)
                T.copy(a_s, a_f)
                x_f = T.alloc_fragment(block_N, dtype)
                T.copy(x[kn * block_N], x_f)
                for i, j in T.Parallel(block_M, block_N):
                    acc[i] += a_f[i, j].astype(F32) * x_f[j].astype(F32)
            T.finalize_reducer(acc)
            T.copy(acc, o[bm * block_M])
    return main


def row_extreme(M, N, op, seed, replication, block_M=16, block_N=32, threads=64):
    """o[i] = op(seed, max/min over j of a[i, j]): a max/min reducer filled with ``seed`` (T.clear when 0)."""
    @T.prim_func
    def main(a: T.Tensor((M, N), F32), o: T.Tensor((M,), F32)):
        with T.Kernel(T.ceildiv(M, block_M), threads=threads) as bm:
            r = T.alloc_reducer((block_M,), F32, op=op, replication=replication)
            T.fill(r, seed)
            for kn in T.serial(N // block_N):
                a_s = T.alloc_shared((block_M, block_N), F32)
                T.copy(a[bm * block_M, kn * block_N], a_s)
                for i, j in T.Parallel(block_M, block_N):
                    if op == "max":
                        r[i] = T.max(r[i], a_s[i, j])
                    else:
                        r[i] = T.min(a_s[i, j], r[i])
            T.finalize_reducer(r)
            T.copy(r, o[bm * block_M])
    return main


def batch_sum_2d(B, M, N, block_B=4, threads=128):
    """o[i, j] = sum_b x[b, i, j]: a 2-d reducer summed over the leading dimension of its loop."""
    @T.prim_func
    def main(x: T.Tensor((B, M, N), F32), o: T.Tensor((M, N), F32)):
        with T.Kernel(1, threads=threads):
            r = T.alloc_reducer((M, N), F32)
            T.clear(r)
            for b0 in T.serial(B // block_B):
                x_s = T.alloc_shared((block_B, M, N), F32)
                T.copy(x[b0 * block_B, 0, 0], x_s)
                for b, i, j in T.Parallel(block_B, M, N):
                    r[i, j] += x_s[b, i, j]
            T.finalize_reducer(r)
            T.copy(r, o)
    return main


def transposed_sum(B, M, N, threads=64):
    """o[j, i] = sum_b x[b, i, j]: a 2-d reducer whose indices permute its loop's variables."""
    @T.prim_func
    def main(x: T.Tensor((B, M, N), F32), o: T.Tensor((N, M), F32)):
        with T.Kernel(1, threads=threads):
            r = T.alloc_reducer((N, M), F32)
            T.clear(r)
            x_s = T.alloc_shared((B, M, N), F32)
            T.copy(x, x_s)
            for b, i, j in T.Parallel(B, M, N):
                r[j, i] += x_s[b, i, j]
            T.finalize_reducer(r)
            T.copy(r, o)
    return main


def small_matmul(M, N, K, block=8, block_K=8, threads=64):
    """c = a @ b through a 2-d reducer updated in a 3-d T.Parallel (the trailing dimension is reduced)."""
    @T.prim_func
    def main(a: T.Tensor((M, K), F32), b: T.Tensor((K, N), F32), c: T.Tensor((M, N), F32)):
        with T.Kernel(T.ceildiv(N, block), T.ceildiv(M, block), threads=threads) as (bx, by):
            r = T.alloc_reducer((block, block), F32, replication="none")
            T.clear(r)
            for ko in T.serial(T.ceildiv(K, block_K)):
                a_s = T.alloc_shared((block, block_K), F32)
                b_s = T.alloc_shared((block_K, block), F32)
                T.copy(a[by * block, ko * block_K], a_s)
                T.copy(b[ko * block_K, bx * block], b_s)
                for i, j, k in T.Parallel(block, block, block_K):
                    r[i, j] += a_s[i, k] * b_s[k, j]
            T.finalize_reducer(r)
            T.copy(r, c[by * block, bx * block])
    return main


def total_and_two_loops(M, N, K, block_M=16, threads=64):
    """t[bm] = sum of a block of a (a one-element reducer, both loop dimensions reduced); s = rowsum(a) + rowsum(b)
    (one reducer updated by two loops of different shapes)."""
    @T.prim_func
    def main(a: T.Tensor((M, N), F32), b: T.Tensor((M, K), F32), t: T.Tensor((M // block_M,), F32),
             s: T.Tensor((M,), F32)):
        with T.Kernel(M // block_M, threads=threads) as bm:
            total = T.alloc_reducer((1,), F32, replication="all")
            rows = T.alloc_reducer((block_M,), F32, replication="all")
            T.clear(total)
            T.clear(rows)
            a_s = T.alloc_shared((block_M, N), F32)
            b_s = T.alloc_shared((block_M, K), F32)
            T.copy(a[bm * block_M, 0], a_s)
            T.copy(b[bm * block_M, 0], b_s)
            for i, j in T.Parallel(block_M, N):
                total[0] += a_s[i, j]
                rows[i] += a_s[i, j]
            for i, k in T.Parallel(block_M, K):
                rows[i] += b_s[i, k]
            T.finalize_reducer(total)
            T.finalize_reducer(rows)
            t[bm] = total[0]
            T.copy(rows, s[bm * block_M])
    return main


def reopened_each_step(S, M, N, threads=64):
    """o[s, i] = sum_j x[s, i, j]: the reducer is cleared and finalized once per step of a serial loop."""
    @T.prim_func
    def main(x: T.Tensor((S, M, N), F32), o: T.Tensor((S, M), F32)):
        with T.Kernel(1, threads=threads):
            r = T.alloc_reducer((M,), F32)
            for s in T.serial(S):
                T.clear(r)
                for i, j in T.Parallel(M, N):
                    r[i] += x[s, i, j]
                T.finalize_reducer(r)
                T.copy(r, o[s, 0])
    return main


def every_index(K, M, N, threads=64):
    """o = max over k of x[k] (elementwise): a max reducer updated at every index of its loop, over a serial k."""
    @T.prim_func
    def main(x: T.Tensor((K, M, N), F32), o: T.Tensor((M, N), F32)):
        with T.Kernel(1, threads=threads):
            r = T.alloc_reducer((M, N), F32, op="max")
            T.fill(r, -T.infinity(F32))
            for k in T.serial(K):
                for i, j in T.Parallel(M, N):
                    r[i, j] = T.max(r[i, j], x[k, i, j])
            T.finalize_reducer(r)
            T.copy(r, o)
    return main


def gemm_row_max(M, N, K, block_M=64, block_N=32, block_K=32, threads=128):
    """o[i] = max_j (a @ b)[i, j]: a max reducer updated from a T.gemm accumulator (tensor cores on CUDA)."""
    @T.prim_func
    def main(a: T.Tensor((M, K), "float16"), b: T.Tensor((K, N), "float16"), o: T.Tensor((M,), F32)):
        with T.Kernel(T.ceildiv(M, block_M), threads=threads) as by:
            r = T.alloc_reducer((block_M,), F32, op="max", replication="all")
            T.fill(r, -T.infinity(F32))
            for bx in T.serial(N // block_N):
                a_s = T.alloc_shared((block_M, block_K), "float16")
                b_s = T.alloc_shared((block_K, block_N), "float16")
                acc = T.alloc_fragment((block_M, block_N), F32)
                T.clear(acc)
                for ko in T.Pipelined(K // block_K, num_stages=2):
                    T.copy(a[by * block_M, ko * block_K], a_s)
                    T.copy(b[ko * block_K, bx * block_N], b_s)
                    T.gemm(a_s, b_s, acc)
                for i, j in T.Parallel(block_M, block_N):
                    r[i] = T.max(r[i], acc[i, j])
            T.finalize_reducer(r)
            T.copy(r, o[by * block_M])
    return main


def count_positive(M, N, threads=64):
    """o[i] = number of positive a[i, j]: an int32 sum reducer."""
    @T.prim_func
    def main(a: T.Tensor((M, N), F32), o: T.Tensor((M,), "int32")):
        with T.Kernel(1, threads=threads):
            r = T.alloc_reducer((M,), "int32")
            T.clear(r)
            for i, j in T.Parallel(M, N):
                r[i] += T.if_then_else(a[i, j] > 0, 1, 0)
            T.finalize_reducer(r)
            T.copy(r, o)
    return main


def epoch_rowsum_plus(M, K, init, block_K=32, threads=64):
    """o[i] = init + sum_k a[i, k] in TileLang's newer reducer form (T.reducer_init with a starting value,
    T.reducer_update in pipelined tiles, T.finalize_reducer into a fragment)."""
    @T.prim_func
    def main(a: T.Tensor((M, K), F32), o: T.Tensor((M,), F32)):
        with T.Kernel(1, threads=threads):
            acc = T.alloc_reducer((M,), F32, op="sum")
            T.reducer_init(acc, init)
            a_s = T.alloc_shared((M, block_K), F32)
            for kt in T.Pipelined(K // block_K, num_stages=2):
                T.copy(a[0, kt * block_K], a_s)
                for i, k in T.Parallel(M, block_K):
                    T.reducer_update(acc[i], a_s[i, k])
            res = T.alloc_fragment((M,), F32)
            T.finalize_reducer(acc, res)
            T.copy(res, o)
    return main


def epoch_two_sites_max(N, threads=128):
    """o[0] = max(max(x), max(y)) with T.reducer_update at two sites of different extents (a one-element max
    reducer over 8 and 16 elements held by 128 threads); o[1] = min(0.25, min(x)) from a min reducer initialized
    with 0.25."""
    @T.prim_func
    def main(x: T.Tensor((N,), F32), y: T.Tensor((2 * N,), F32), o: T.Tensor((2,), F32)):
        with T.Kernel(1, threads=threads):
            x_f = T.alloc_fragment((N,), F32)
            y_f = T.alloc_fragment((2 * N,), F32)
            T.copy(x, x_f)
            T.copy(y, y_f)
            m = T.alloc_reducer((1,), F32, op="max")
            e = T.alloc_reducer((1,), F32, op="min")
            T.reducer_init(m)
            T.reducer_init(e, 0.25)
            for i in T.Parallel(N):
                T.reducer_update(m[0], x_f[i])
                T.reducer_update(e[0], x_f[i])
            for j in T.Parallel(2 * N):
                T.reducer_update(m[0], y_f[j])
            res = T.alloc_fragment((1,), F32)
            least = T.alloc_fragment((1,), F32)
            T.finalize_reducer(m, res)
            T.finalize_reducer(e, least)
            o[0] = res[0]
            o[1] = least[0]
    return main


def serial_row_index(R, C, K, threads=64):
    """o[r, c] = sum_k x[r, c, k] and s[r] = sum x[r]: reducers indexed by a T.serial variable around the
    T.Parallel (one element per run of the loop, and a row of a 2-d reducer per run)."""
    @T.prim_func
    def main(x: T.Tensor((R, C, K), F32), o: T.Tensor((R, C), F32), s: T.Tensor((R,), F32)):
        with T.Kernel(1, threads=threads):
            grid = T.alloc_reducer((R, C), F32)
            rows = T.alloc_reducer((R,), F32)
            T.clear(grid)
            T.clear(rows)
            x_s = T.alloc_shared((C, K), F32)
            for r in T.serial(R):
                T.copy(x[r, 0, 0], x_s)
                for c, k in T.Parallel(C, K):
                    grid[r, c] += x_s[c, k]
                    rows[r] += x_s[c, k]
            T.finalize_reducer(grid)
            T.finalize_reducer(rows)
            T.copy(grid, o)
            T.copy(rows, s)
    return main


@tiledsl.jit
def gemv_newer_style(a, x, block_M=32, block_N=32, threads=64, dtype=T.float16):
    """TileLang's newer style: sizes from the tensors, the output made with T.empty and returned."""
    M, N = T.const("M, N")
    a: T.Tensor((M, N), dtype)
    x: T.Tensor((N,), dtype)
    o = T.empty((M,), T.float32)
    with T.Kernel(T.ceildiv(M, block_M), threads=threads) as bm:
        acc = T.alloc_reducer(block_M, T.float32, replication="all")
        T.clear(acc)
        for kn in T.Pipelined(T.ceildiv(N, block_N), num_stages=2):
            a_f = T.alloc_fragment((block_M, block_N), dtype)
            T.copy(a[bm * block_M, kn * block_N], a_f)
            x_f = T.alloc_fragment(block_N, dtype)
            T.copy(x[kn * block_N], x_f)
            for i, j in T.Parallel(block_M, block_N):
                acc[i] += a_f[i, j] * x_f[j]
        T.finalize_reducer(acc)
        T.copy(acc, o[bm * block_M])
    return o


# ---------------------------------------------------------------------------------------------- cases
def _gemv_case(replication):
    M, N = 80, 96  # M not a multiple of block_M: the last block's rows past M are dropped

    def inputs():
        return [rand(M, N, dtype=torch.float16), rand(N, dtype=torch.float16)]

    def ref(a, x):
        return [a.double() @ x.double()]
    return gemv(M, N, replication=replication), inputs, ref, [(M,)], 1e-3


def _extreme_case(op, seed, replication):
    M, N = 48, 64

    def inputs():
        a = rand(M, N)
        a[: M // 2] = -a[: M // 2].abs() if op == "max" else a[: M // 2].abs()  # rows where the seed wins
        return [a]

    def ref(a):
        red = a.double().amax(1) if op == "max" else a.double().amin(1)
        return [red.clamp(min=seed) if op == "max" else red.clamp(max=seed)]
    return row_extreme(M, N, op, seed, replication), inputs, ref, [(M,)], 0.0


CASES = {
    "gemv_all": _gemv_case("all"),
    "gemv_none": _gemv_case("none"),
    "row_max_neg_inf_none": _extreme_case("max", float("-inf"), "none"),
    "row_max_clear_all": _extreme_case("max", 0.0, "all"),
    "row_min_seed_none": _extreme_case("min", 0.25, "none"),
    "batch_sum_2d": (batch_sum_2d(8, 8, 16), lambda: [rand(8, 8, 16)],
                     lambda x: [x.double().sum(0)], [(8, 16)], 1e-4),
    "small_matmul_2d": (small_matmul(40, 24, 20), lambda: [rand(40, 20), rand(20, 24)],
                        lambda a, b: [a.double() @ b.double()], [(40, 24)], 1e-4),
    "total_and_two_loops": (total_and_two_loops(32, 24, 8), lambda: [rand(32, 24), rand(32, 8)],
                            lambda a, b: [a.double().reshape(2, -1).sum(1),
                                          a.double().sum(1) + b.double().sum(1)], [(2,), (32,)], 1e-4),
    "reopened_each_step": (reopened_each_step(3, 16, 8), lambda: [rand(3, 16, 8)],
                           lambda x: [x.double().sum(2)], [(3, 16)], 1e-4),
    "every_index": (every_index(5, 8, 16), lambda: [rand(5, 8, 16)],
                    lambda x: [x.double().amax(0)], [(8, 16)], 0.0),
    "count_positive_int32": (count_positive(16, 40), lambda: [rand(16, 40)],
                             lambda a: [(a > 0).sum(1)], [(16,)], 0.0),
    "v2_rowsum_plus_init": (epoch_rowsum_plus(16, 128, 1.5), lambda: [rand(16, 128)],
                            lambda a: [a.double().sum(1) + 1.5], [(16,)], 1e-4),
    "v2_two_sites_max": (epoch_two_sites_max(8), lambda: [rand(8), rand(16)],
                         lambda x, y: [torch.stack([torch.maximum(x.double().max(), y.double().max()),
                                                    x.double().min().clamp(max=0.25)])], [(2,)], 0.0),
    "transposed_sum": (transposed_sum(4, 8, 16), lambda: [rand(4, 8, 16)],
                       lambda x: [x.double().sum(0).T], [(16, 8)], 1e-4),
    "serial_row_index": (serial_row_index(3, 8, 16), lambda: [rand(3, 8, 16)],
                         lambda x: [x.double().sum(2), x.double().sum((1, 2))], [(3, 8), (3,)], 1e-4),
    "gemm_row_max": (gemm_row_max(64, 64, 64), lambda: [rand(64, 64, dtype=torch.float16),
                                                        rand(64, 64, dtype=torch.float16)],
                     lambda a, b: [(a.double() @ b.double()).amax(1)], [(64,)], 1e-4),
}


def run_case(name, target="llvm", device="cpu"):
    prim, make_inputs, ref, out_shapes, tol = CASES[name]
    inputs = make_inputs()
    kernel = tiledsl.compile(prim, target=target)
    outs = [poisoned_like(torch.empty(s, dtype=getattr(torch, p.dtype), device=device))
            for s, p in zip(out_shapes, kernel.params[len(inputs):])]
    kernel(*[t.to(device) for t in inputs], *outs)
    for got, want in zip(outs, ref(*inputs)):
        assert not got.double().isnan().any()
        torch.testing.assert_close(got.cpu().double(), want.double(), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reducer_on_cpu(name):
    run_case(name)


def test_newer_style_gemv_on_cpu():
    a, x = rand(64, 96, dtype=torch.float16), rand(96, dtype=torch.float16)
    o = gemv_newer_style(a, x)
    torch.testing.assert_close(o.double(), a.double() @ x.double(), rtol=1e-2, atol=1e-2)  # fp16 products


def test_reducer_lowers_to_fragments_and_reductions():
    """After LowerReducers no reducer remains: a partial fragment per updating loop, reduced into the result."""
    import tvm

    from tiledsl.passes.lower_reducers import LowerReducers
    text = LowerReducers(tvm.IRModule({"main": total_and_two_loops(32, 24, 8)}))["main"].script()
    assert "local.reducer" not in text and "finalize_reducer" not in text
    assert text.count("tiledsl.reduce") == 4  # total: 2 dims; rows: one per loop
    assert '"clear": False' in text  # rows' second loop combines into the first one's result


# ---------------------------------------------------------------------------------------------- CUDA
def gemm_with_row_max(M, N, K, bm=128, bn=128, bk=32):
    """The canonical 2-d-grid GEMM (C = A @ B) plus a row-max reducer over its accumulator (R[i, bx])."""
    @T.prim_func
    def main(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), C: T.Tensor((M, N), "float16"),
             R: T.Tensor((M, N // bn), F32)):
        with T.Kernel(T.ceildiv(N, bn), T.ceildiv(M, bm), threads=128) as (bx, by):
            A_s = T.alloc_shared((bm, bk), "float16")
            B_s = T.alloc_shared((bk, bn), "float16")
            C_f = T.alloc_fragment((bm, bn), F32)
            T.clear(C_f)
            r = T.alloc_reducer((bm,), F32, op="max")
            T.fill(r, -T.infinity(F32))
            for k in T.Pipelined(T.ceildiv(K, bk), num_stages=3):
                T.copy(A[by * bm, k * bk], A_s)
                T.copy(B[k * bk, bx * bn], B_s)
                T.gemm(A_s, B_s, C_f)
            for i, j in T.Parallel(bm, bn):
                r[i] = T.max(r[i], C_f[i, j])
            T.finalize_reducer(r)
            T.copy(C_f, C[by * bm, bx * bn])
            for i in T.Parallel(bm):
                R[by * bm + i, bx] = r[i]
    return main


def test_hopper_shortcut_keeps_off_reducers(hopper_shortcut):
    """The whole-kernel Hopper matchers know no reducer: a GEMM with one stays on the general passes."""
    import tvm

    from tiledsl.passes.pipeline import lower
    low = lower(tvm.IRModule({"main": gemm_with_row_max(256, 256, 256)}),
                tvm.target.Target({"kind": "cuda", "arch": "sm_90a"}))
    assert low.path == "generic" and low.kernel_info["hopper_refused"] == "the program uses T.alloc_reducer"


@pytest.mark.nvcc
@pytest.mark.parametrize("target", ARCHS, ids=lambda t: t["arch"])
@pytest.mark.parametrize("name", ["gemv_all", "row_max_clear_all", "small_matmul_2d", "total_and_two_loops",
                                  "every_index", "gemm_row_max", "v2_rowsum_plus_init", "v2_two_sites_max",
                                  "serial_row_index", "transposed_sum"])
def test_reducer_builds_for_cuda(name, target):
    kernel = tiledsl.compile(CASES[name][0], target=target)
    src = kernel.get_kernel_source()
    assert "__global__" in src
    if name != "every_index":  # one thread's contributions per element there: no communication
        assert "__shfl_xor_sync" in src


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(CASES))
def test_reducer_on_gpu(name):
    run_case(name, target="cuda", device="cuda")


@pytest.mark.gpu
def test_newer_style_gemv_on_gpu():
    a, x = rand(1024, 1024, dtype=torch.float16).cuda(), rand(1024, dtype=torch.float16).cuda()
    o = gemv_newer_style(a, x, block_M=128, block_N=128, threads=256)
    torch.testing.assert_close(o.double(), a.double() @ x.double(), rtol=1e-2, atol=5e-2)  # fp16 products


# ---------------------------------------------------------------------------------------------- mistakes
def _program(body, M=32, N=32):
    """A one-block program over a (M, N) float32 input whose reducer part is ``body(a, o)`` (a macro)."""
    @tiledsl.jit
    def prog(a):
        a: T.Tensor((M, N), T.float32)
        o = T.empty((M,), T.float32)
        with T.Kernel(1, threads=32):
            body(a, o)
        return o
    return prog


def _compile_error(fn, match):
    with pytest.raises(TileProgramError, match=match) as info:
        fn.compile(target="llvm")
    assert "test_reducer.py" in str(info.value)  # the user's line
    return str(info.value)


def test_unknown_op_is_named():
    @T.macro
    def body(a, o):
        T.alloc_reducer((32,), T.float32, op="prod")
    _compile_error(_program(body), r"unknown op='prod'")


def test_bitwise_op_and_bad_replication_are_refused():
    @T.macro
    def bitwise(a, o):
        T.alloc_reducer((32,), T.int32, op="bitor")

    @T.macro
    def replication(a, o):
        T.alloc_reducer((32,), T.float32, replication="some")
    _compile_error(_program(bitwise), r"bitwise reducer\) is not supported")
    _compile_error(_program(replication), r"replication='some'")


def test_finalize_of_a_fragment_is_refused():
    @T.macro
    def body(a, o):
        f = T.alloc_fragment((32,), T.float32)
        T.finalize_reducer(f)
    _compile_error(_program(body), r"f is a 'local.fragment' buffer, not a reducer")


def test_newer_form_mistakes_are_named():
    @T.macro
    def wrong_dst(a, o):
        r = T.alloc_reducer((32,), T.float32)
        d = T.alloc_fragment((16,), T.float32)
        T.reducer_init(r)
        T.finalize_reducer(r, d)

    @T.macro
    def update_outside(a, o):
        r = T.alloc_reducer((32,), T.float32)
        d = T.alloc_fragment((32,), T.float32)
        T.reducer_init(r)
        T.reducer_update(r[0], a[0, 0])
        T.finalize_reducer(r, d)

    @T.macro
    def not_an_element(a, o):
        f = T.alloc_fragment((32,), T.float32)
        for i in T.Parallel(32):
            T.reducer_update(f[i], a[i, 0])
    _compile_error(_program(wrong_dst), r"the destination d is \(16,\) float32 but the reducer r is \(32,\)")
    _compile_error(_program(update_outside), r"updated by T.reducer_update outside a T.Parallel loop")
    _compile_error(_program(not_an_element), r"T.reducer_update: the first argument must be an element of a "
                                             r"reducer")


def _misuse(kind):
    @T.macro
    def body(a, o):
        r = T.alloc_reducer((32,), T.float32, op="sum")
        if kind == "part_fill":
            T.clear(r[0:16])
        elif kind != "no_fill":
            T.fill(r, 1.0 if kind == "nonzero_fill" else 0.0)
        if kind == "outside_parallel":
            r[0] = r[0] + a[0, 0]
        for i, j in T.Parallel(32, 32):
            if kind == "wrong_op":
                r[i] = T.max(r[i], a[i, j])
            elif kind == "read":
                r[i] += a[i, j] * r[j]
            elif kind == "index":
                r[i // 2] += a[i, j]
            else:
                r[i] += a[i, j]
        if kind == "copied_into":
            T.copy(a[0, 0:32], r)
        if kind == "read_early":
            T.copy(r, o)
        T.finalize_reducer(r)
        T.copy(r, o)
    return _program(body)


@pytest.mark.parametrize("kind, match", [
    ("nonzero_fill", r"filled with a non-zero value"),
    ("no_fill", r"finalized without a T.clear"),
    ("outside_parallel", r"updated outside a T.Parallel loop"),
    ("wrong_op", r"can only be updated as `r\[i\] \+= v`"),
    ("read", r"is read inside a T.Parallel loop that updates it"),
    ("index", r"must be indexed by loop variables"),
    ("copied_into", r"is written by T.copy"),
    ("part_fill", r"is filled only in part"),
    ("read_early", r"is read before T.finalize_reducer"),
])
def test_reducer_misuse_is_a_clear_error(kind, match):
    msg = _compile_error(_misuse(kind), match)
    assert "reducer r" in msg


def test_loop_of_dynamic_extent_is_named():
    @tiledsl.jit
    def over_rows(a):
        M = T.dynamic("M")
        a: T.Tensor((M, 32), T.float32)
        o = T.empty((32,), T.float32)
        with T.Kernel(1, threads=32):
            r = T.alloc_reducer((32,), T.float32)
            T.clear(r)
            for i, j in T.Parallel(M, 32):
                r[j] += a[i, j]
            T.finalize_reducer(r)
            T.copy(r, o)
        return o
    with pytest.raises(TileProgramError, match=r"needs constant extents[\s\S]*test_reducer.py"):
        over_rows(rand(8, 32))


@T.macro
def _accumulate_tile(r, a, k):
    for i, j in T.Parallel(16, 16):
        r[i] += a[i, k * 16 + j]


@tiledsl.jit
def rowsum_by_macro(a):
    """A reducer updated in a T.macro, in a kernel with per-thread code (T.get_thread_binding)."""
    a: T.Tensor((16, 64), T.float32)
    o = T.empty((16,), T.float32)
    with T.Kernel(1, threads=64):
        tx = T.get_thread_binding()
        r = T.alloc_reducer((16,), T.float32)
        T.clear(r)
        for k in T.serial(4):
            _accumulate_tile(r, a, k)
        T.finalize_reducer(r)
        if tx == 0:
            for i in T.serial(16):
                o[i] = r[i]
    return o


def test_reducer_in_a_macro_with_thread_code_on_cpu():
    a = rand(16, 64)
    torch.testing.assert_close(rowsum_by_macro(a).double(), a.double().sum(1), rtol=1e-5, atol=1e-5)


@pytest.mark.nvcc
def test_reducer_in_a_macro_builds_for_sm90a():
    kernel = rowsum_by_macro.compile(target=ARCHS[1])
    assert "__shfl_xor_sync" in kernel.get_kernel_source()
