"""Side effects of per-element code on CUDA run once per element, not once per thread holding a copy (issue 8).

Each program below has a side effect (atomic, store to global or shared memory) in code over a fragment that
several threads hold: a reduction output (every thread holds it), the row statistics of a tensor-core accumulator
(a quad of lanes in each warp of the row), ``T.alloc_local`` state. Three checks per program:

* CPU: the program itself matches torch (so a CUDA failure points at the CUDA lowering);
* no GPU needed: ``thread_effects`` walks the lowered TIR for every block and thread and counts how many times each
  output element is stored or atomically added - exactly the expected number (the bug was 128x for atomics);
* nvcc builds it for sm_80 and sm_90a; on a GPU (marked ``gpu``) it matches torch with poisoned outputs.
"""
import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.errors import TileProgramError

from thread_effects import per_element, register_writes, side_effects

ARCHS = ["sm_80", "sm_90a"]


# ---------------------------------------------------------------- programs
def colsum_parallel_atomic(M, N, bm=64, bn=32, threads=128):
    """S[j] += column sums, one scalar atomic per element in a T.Parallel over the (replicated) reduction output."""
    @T.prim_func
    def kernel(A: T.Tensor((M, N), "float32"), S: T.Tensor((N,), "float32")):
        with T.Kernel(T.ceildiv(N, bn), T.ceildiv(M, bm), threads=threads) as (bx, by):
            a = T.alloc_fragment((bm, bn), "float32")
            s = T.alloc_fragment((bn,), "float32")
            T.copy(A[by * bm, bx * bn], a)
            T.reduce_sum(a, s, dim=0)
            for j in T.Parallel(bn):
                T.atomic_add(S[bx * bn + j], s[j])
    return kernel


def colsum_tile_atomic(M, N, bm=64, bn=32, threads=128):
    """S += column sums through the tile form ``T.atomic_add(S[...], s)`` of a replicated fragment."""
    @T.prim_func
    def kernel(A: T.Tensor((M, N), "float32"), S: T.Tensor((N,), "float32")):
        with T.Kernel(T.ceildiv(N, bn), T.ceildiv(M, bm), threads=threads) as (bx, by):
            a = T.alloc_fragment((bm, bn), "float32")
            s = T.alloc_fragment((bn,), "float32")
            T.copy(A[by * bm, bx * bn], a)
            T.reduce_sum(a, s, dim=0)
            T.atomic_add(S[bx * bn], s)
    return kernel


def colsum_scratch_local(M, N, bm=64, bn=32, threads=128):
    """S += 2 * column sums: the atomic's value goes through a per-iteration ``T.alloc_local`` temporary."""
    @T.prim_func
    def kernel(A: T.Tensor((M, N), "float32"), S: T.Tensor((N,), "float32")):
        with T.Kernel(T.ceildiv(N, bn), T.ceildiv(M, bm), threads=threads) as (bx, by):
            a = T.alloc_fragment((bm, bn), "float32")
            s = T.alloc_fragment((bn,), "float32")
            tmp = T.alloc_local((1,), "float32")
            T.copy(A[by * bm, bx * bn], a)
            T.reduce_sum(a, s, dim=0)
            for j in T.Parallel(bn):
                tmp[0] = s[j] * T.float32(2)
                T.atomic_add(S[bx * bn + j], tmp[0])
    return kernel


def colsum_running_local(N, bm=32, bn=32, threads=128):
    """P[by, j] = sum of the block's column sums 0..j: a running value in ``T.alloc_local`` carried across the
    iterations of a T.Parallel that also stores to global memory (one row of blocks per row block)."""
    M = 2 * bm

    @T.prim_func
    def kernel(A: T.Tensor((M, N), "float32"), P: T.Tensor((2, N), "float32")):
        with T.Kernel(T.ceildiv(N, bn), 2, threads=threads) as (bx, by):
            a = T.alloc_fragment((bm, bn), "float32")
            s = T.alloc_fragment((bn,), "float32")
            run = T.alloc_local((1,), "float32")
            T.copy(A[by * bm, bx * bn], a)
            T.reduce_sum(a, s, dim=0)
            run[0] = T.float32(0)
            for j in T.Parallel(bn):
                run[0] = run[0] + s[j]
                P[by, bx * bn + j] = run[0]
    return kernel


def colsum_replicated_and_store(M, N, bm=64, bn=32, threads=128):
    """A T.Parallel that updates a replicated fragment (t = 2 s) and stores it (O1); a second loop reads t at
    another thread's element (O2[j] = t[(j + 1) % bn]), so every thread must hold all of t."""
    @T.prim_func
    def kernel(A: T.Tensor((M, N), "float32"), O: T.Tensor((2, T.ceildiv(M, bm), N), "float32")):
        with T.Kernel(T.ceildiv(N, bn), T.ceildiv(M, bm), threads=threads) as (bx, by):
            a = T.alloc_fragment((bm, bn), "float32")
            s = T.alloc_fragment((bn,), "float32")
            t = T.alloc_fragment((bn,), "float32")
            T.copy(A[by * bm, bx * bn], a)
            T.reduce_sum(a, s, dim=0)
            for j in T.Parallel(bn):
                t[j] = s[j] * T.float32(2)
                O[0, by, bx * bn + j] = t[j]
            for j in T.Parallel(bn):
                O[1, by, bx * bn + j] = t[(j + 1) % bn]
    return kernel


def colsum_copies(M, N, bm=64, bn=32, threads=128):
    """The reduction output copied to global memory (O[0]), to a shared tile and from there to global (O[1]), and
    stored into shared memory by a T.Parallel and then copied out (O[2])."""
    @T.prim_func
    def kernel(A: T.Tensor((M, N), "float32"), O: T.Tensor((3, T.ceildiv(M, bm), N), "float32")):
        with T.Kernel(T.ceildiv(N, bn), T.ceildiv(M, bm), threads=threads) as (bx, by):
            a = T.alloc_fragment((bm, bn), "float32")
            s = T.alloc_fragment((bn,), "float32")
            sh = T.alloc_shared((bn,), "float32")
            sh2 = T.alloc_shared((bn,), "float32")
            T.copy(A[by * bm, bx * bn], a)
            T.reduce_sum(a, s, dim=0)
            T.copy(s, O[0, by, bx * bn])
            T.copy(s, sh)
            T.copy(sh, O[1, by, bx * bn])
            for j in T.Parallel(bn):
                sh2[j] = s[j] + T.float32(1)
            T.copy(sh2, O[2, by, bx * bn])
    return kernel


def colsum_into_shared(M, N, bm=32, bn=32, threads=128):
    """Two column reductions accumulated into a shared tile (``clear=False``: a read-modify-write of shared
    memory), then copied out: O[by, j] = sum of both halves' columns."""
    @T.prim_func
    def kernel(A: T.Tensor((M, N), "float32"), O: T.Tensor((T.ceildiv(M, 2 * bm), N), "float32")):
        with T.Kernel(T.ceildiv(N, bn), T.ceildiv(M, 2 * bm), threads=threads) as (bx, by):
            a = T.alloc_fragment((bm, bn), "float32")
            sh = T.alloc_shared((bn,), "float32")
            T.clear(sh)
            T.copy(A[by * 2 * bm, bx * bn], a)
            T.reduce_sum(a, sh, dim=0, clear=False)
            T.copy(A[by * 2 * bm + bm, bx * bn], a)
            T.reduce_sum(a, sh, dim=0, clear=False)
            T.copy(sh, O[by, bx * bn])
    return kernel


def block_level_updates(N, bn=32, threads=128):
    """Block-level code outside T.Parallel: a running sum in shared memory (sh[0] = sh[0] + s[k]), a global store
    of it, and a scalar atomic - each must run once per block, as on the CPU. O = [per-block sums..., total]."""
    nb = N // bn

    @T.prim_func
    def kernel(A: T.Tensor((N,), "float32"), O: T.Tensor((nb + 1,), "float32")):
        with T.Kernel(nb, threads=threads) as bx:
            a = T.alloc_fragment((bn,), "float32")
            s = T.alloc_fragment((1,), "float32")
            sh = T.alloc_shared((1,), "float32")
            T.copy(A[bx * bn], a)
            T.reduce_sum(a, s, dim=0)
            sh[0] = T.float32(0)
            for k in T.serial(4):
                sh[0] = sh[0] + s[0] * T.float32(0.25)
            O[bx] = sh[0]
            T.atomic_add(O[nb], s[0])
    return kernel


def mma_row_sums(M, N, K=32, bm=64, bn=64, form="atomic"):
    """Row sums of A @ B on tensor cores: the row statistic r (held by a quad of lanes in each of the 2 warps of
    its row) is added atomically into R (M,) (``form="atomic"``), stored per column block into R (nbx, M)
    (``"store"``), or halved and then T.copy'd whole to global memory (R[0]) and through shared memory (R[1]) of
    R (2, nbx, M) (``"copy"``: the copies must keep r in the rows layout and store each element once)."""
    nbx = (N + bn - 1) // bn
    r_shape = {"atomic": (M,), "store": (nbx, M), "copy": (2, nbx, M)}[form]

    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), R: T.Tensor(r_shape, "float32")):
        with T.Kernel(T.ceildiv(N, bn), T.ceildiv(M, bm), threads=128) as (bx, by):
            A_s = T.alloc_shared((bm, K), "float16")
            B_s = T.alloc_shared((K, bn), "float16")
            C_f = T.alloc_fragment((bm, bn), "float32")
            r = T.alloc_fragment((bm,), "float32")
            T.copy(A[by * bm, 0], A_s)
            T.copy(B[0, bx * bn], B_s)
            T.gemm(A_s, B_s, C_f, clear_accum=True)
            T.reduce_sum(C_f, r, dim=1)
            if form == "atomic":
                for i in T.Parallel(bm):
                    T.atomic_add(R[by * bm + i], r[i])
            elif form == "copy":
                r_sh = T.alloc_shared((bm,), "float32")
                for i in T.Parallel(bm):
                    r[i] = r[i] * T.float32(0.5)
                T.copy(r, R[0, bx, by * bm])
                T.copy(r, r_sh)
                T.copy(r_sh, R[1, bx, by * bm])
            else:
                for i in T.Parallel(bm):
                    R[bx, by * bm + i] = r[i]
    return kernel


# ---------------------------------------------------------------- cases: program, inputs, reference, effects
class Case:
    """``checks``: what the thread walk must find (see :func:`once` and :func:`on_every_thread`).
    ``accumulate``: the output starts at zero (atomics add into it), so it cannot be poisoned."""

    def __init__(self, func, inputs, ref, checks, accumulate=False, tol=1e-4):
        self.func, self.inputs, self.ref, self.checks = func, inputs, ref, list(checks)
        self.accumulate, self.tol = accumulate, tol

    @property
    def registers(self):
        return [c.buffer for c in self.checks if isinstance(c, on_every_thread)]


class once:
    """Each element of ``buffer`` gets exactly ``expected[index]`` side effects of ``kind`` (None: any) over the
    whole grid, and no other element any."""

    def __init__(self, buffer, kind, expected):
        self.buffer, self.kind, self.expected = buffer, kind, expected

    def __call__(self, effects):
        counts = per_element(effects, self.buffer, self.kind)
        wrong = {i: (counts.get(i, 0), n) for i, n in self.expected.items() if counts.get(i, 0) != n}
        extra = sorted(set(counts) - set(self.expected))
        assert not wrong and not extra, f"{self.buffer}: (index: (times run, expected)) " \
                                        f"{dict(list(wrong.items())[:5])}; outside the output: {extra[:5]}"


class on_every_thread:
    """Every thread of every block stores each of the ``n`` elements of the per-thread buffer ``buffer`` (a
    replicated fragment must be whole on every thread), ``times`` times."""

    def __init__(self, buffer, n, threads, blocks, times=1):
        self.buffer, self.n, self.threads, self.blocks, self.times = buffer, n, threads, blocks, times

    def __call__(self, effects):
        writes = register_writes(effects, self.buffer)
        assert len(writes) == self.threads * self.blocks, \
            f"{self.buffer} is written on {len(writes)} threads, not all {self.threads * self.blocks}"
        for where, per_index in writes.items():
            assert len(per_index) == self.n and set(per_index.values()) == {self.times}, \
                f"thread {where} wrote {self.buffer} at {dict(per_index)}, expected each of {self.n} elements " \
                f"{self.times} times"


def _each(shape, count=1):
    """{index: count} for every element of ``shape``."""
    return {idx: count for idx in _indices(shape)}


def _indices(shape):
    if not shape:
        return [()]
    return [(i,) + rest for i in range(shape[0]) for rest in _indices(shape[1:])]


def _colsums(x, bm, bn=None):
    """(row blocks, N) column sums of each block of bm rows (rows past the end count as zero); with ``bn``, the
    columns are padded with zeros to whole blocks of bn."""
    M, N = x.shape
    nb = -(-M // bm)
    cols = N if bn is None else -(-N // bn) * bn
    padded = torch.zeros(nb * bm, cols, dtype=x.dtype, device=x.device)
    padded[:M, :N] = x
    return padded.view(nb, bm, cols).sum(1)


def _per_column_block(sums, bn, fn, N):
    """``fn`` applied to each block of bn columns of padded sums, cut back to N columns."""
    return torch.cat([fn(sums[:, k:k + bn]) for k in range(0, sums.shape[1], bn)], 1)[:, :N]


def cases():
    """The side-effect programs, by name (small, ragged where a guard matters)."""
    M, N = 130, 70  # 3 row blocks of 64, 3 column blocks of 32: ragged both ways
    rand = lambda *shape: (lambda d: [torch.randn(*shape, device=d)])  # noqa: E731
    return {
        "parallel_atomic": Case(colsum_parallel_atomic(M, N), rand(M, N), lambda x: x.sum(0),
                                [once("S", "atomic", _each((N,), 3))], accumulate=True),
        "tile_atomic": Case(colsum_tile_atomic(M, N), rand(M, N), lambda x: x.sum(0),
                            [once("S", "atomic", _each((N,), 3))], accumulate=True),
        "scratch_local": Case(colsum_scratch_local(M, N), rand(M, N), lambda x: 2 * x.sum(0),
                              [once("S", "atomic", _each((N,), 3))], accumulate=True),
        "running_local": Case(colsum_running_local(N), rand(64, N),
                              lambda x: _per_column_block(_colsums(x, 32, 32), 32, lambda b: b.cumsum(1), N),
                              [once("P", "store", _each((2, N))),
                               on_every_thread("run", 1, 128, 6, times=33)]),
        "replicated_and_store": Case(
            colsum_replicated_and_store(M, N), rand(M, N),
            lambda x: 2 * torch.stack([_colsums(x, 64), _per_column_block(_colsums(x, 64, 32), 32,
                                                                          lambda b: b.roll(-1, 1), N)]),
            [once("O", "store", _each((2, 3, N))), on_every_thread("t", 32, 128, 9)]),
        "copies": Case(colsum_copies(M, N), rand(M, N),
                       lambda x: torch.stack([_colsums(x, 64), _colsums(x, 64), _colsums(x, 64) + 1]),
                       [once("O", "store", _each((3, 3, N)))]),
        "reduce_into_shared": Case(colsum_into_shared(M, N), rand(M, N), lambda x: _colsums(x, 64),
                                   [once("O", "store", _each((3, N))),
                                    once("sh", "store", _each((32,), 27))]),
        "block_level": Case(block_level_updates(128), rand(128),
                            lambda x: torch.cat([x.view(4, 32).sum(1), x.sum().reshape(1)]),
                            [once("O", None, {**_each((4,)), (4,): 4}), once("sh", "store", {(0,): 20})],
                            accumulate=True),
        "mma_rows_atomic": Case(mma_row_sums(128, 192), lambda d: [torch.randn(128, 32, device=d).half(),
                                                                   torch.randn(32, 192, device=d).half()],
                                lambda a, b: (a.float() @ b.float()).sum(1), [once("R", "atomic", _each((128,), 3))],
                                accumulate=True, tol=2e-2),
        "mma_rows_store": Case(mma_row_sums(128, 192, form="store"),
                               lambda d: [torch.randn(128, 32, device=d).half(), torch.randn(32, 192, device=d).half()],
                               lambda a, b: (a.float() @ b.float()).view(128, 3, 64).sum(2).T,
                               [once("R", "store", _each((3, 128)))], tol=2e-2),
        "mma_rows_copy": Case(mma_row_sums(128, 192, form="copy"),
                              lambda d: [torch.randn(128, 32, device=d).half(), torch.randn(32, 192, device=d).half()],
                              lambda a, b: (a.float() @ b.float()).view(128, 3, 64).sum(2).T.mul(0.5).expand(2, 3, 128),
                              [once("R", "store", _each((2, 3, 128))), once("r_sh", "store", _each((64,), 6))],
                              tol=2e-2),
    }


CASES = cases()


def run_case(case, target, device):
    """Compile and run a case (output poisoned unless it accumulates); returns (got, want)."""
    kernel = tiledsl.compile(case.func, out_idx=[], target=target)
    inputs = case.inputs(device)
    want = case.ref(*inputs).float()
    out = torch.zeros(want.shape, device=device) if case.accumulate else \
        torch.full(want.shape, float("nan"), device=device)
    kernel(*inputs, out)
    return out, want


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize("name", sorted(CASES))
def test_program_matches_torch_on_cpu(name):
    got, want = run_case(CASES[name], "llvm", "cpu")
    torch.testing.assert_close(got, want, rtol=CASES[name].tol, atol=CASES[name].tol)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_element_side_effect_runs_once_per_element(name):
    case = CASES[name]
    effects = side_effects(case.func, registers=case.registers, only=[c.buffer for c in case.checks])
    for check in CASES[name].checks:
        check(effects)


@pytest.mark.nvcc
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_builds_with_nvcc(name, arch, monkeypatch):
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    src = tiledsl.compile(CASES[name].func, out_idx=[], target={"kind": "cuda", "arch": arch}).get_kernel_source()
    assert "__global__" in src


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_on_gpu(name, monkeypatch):
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    got, want = run_case(CASES[name], "cuda", "cuda")
    torch.cuda.synchronize()
    assert not torch.isnan(got).any(), "some outputs were never written"
    torch.testing.assert_close(got, want, rtol=CASES[name].tol, atol=CASES[name].tol)


# ---------------------------------------------------------------- refused programs
def test_carried_local_in_a_loop_spread_by_a_fragment_is_refused():
    @T.prim_func
    def prefix(A: T.Tensor((64,), "float32"), B: T.Tensor((64,), "float32")):
        with T.Kernel(1, threads=32) as bx:
            a = T.alloc_fragment((64,), "float32")
            run = T.alloc_local((1,), "float32")
            T.copy(A, a)
            run[0] = T.float32(0)
            for i in T.Parallel(64):
                run[0] = run[0] + a[i]
                a[i] = run[0]
            T.copy(a, B)
    with pytest.raises(TileProgramError, match="run carries a value"):
        tiledsl.compile(prefix, target={"kind": "cuda", "arch": "sm_90a"})


def test_replicated_update_with_memory_read_and_write_is_refused():
    @T.prim_func
    def bad(A: T.Tensor((64, 32), "float32"), S: T.Tensor((32,), "float32")):
        with T.Kernel(1, threads=64) as bx:
            a = T.alloc_fragment((64, 32), "float32")
            s = T.alloc_fragment((32,), "float32")
            T.copy(A, a)
            T.reduce_sum(a, s, dim=0)
            for j in T.Parallel(32):
                s[j] = s[j] + S[j]
                S[j] = s[j]
    with pytest.raises(TileProgramError, match="split it"):
        tiledsl.compile(bad, target={"kind": "cuda", "arch": "sm_90a"})


def test_local_temporary_written_on_every_path_is_accepted():
    @T.prim_func
    def relu2(A: T.Tensor((64,), "float32"), B: T.Tensor((64,), "float32")):
        with T.Kernel(1, threads=32) as bx:
            a = T.alloc_fragment((64,), "float32")
            tmp = T.alloc_local((1,), "float32")
            T.copy(A, a)
            for i in T.Parallel(64):
                if a[i] > T.float32(0):
                    tmp[0] = a[i] * T.float32(2)
                else:
                    tmp[0] = T.float32(0)
                a[i] = tmp[0]
            T.copy(a, B)
    counts = per_element(side_effects(relu2), "B", "store")
    assert counts == {(i,): 1 for i in range(64)}
    x = torch.randn(64)
    y = torch.full((64,), float("nan"))
    tiledsl.compile(relu2, out_idx=[], target="llvm")(x, y)
    torch.testing.assert_close(y, torch.relu(x) * 2)
