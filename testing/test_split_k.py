"""Split-K of a few-block GEMM's reduction loop (``TILEDSL_SPLIT_K``, ``passes/split_k.py``; opt-in).

CPU (LLVM): the split programs against torch in float64 (int8-weight with its per-column scale epilogue, a plain
GEMM with B stored transposed), outputs poisoned first; which programs are left alone (a loop that is not a sum of
gemms, a grid with blockIdx.z, a part count that does not divide the loop, ``auto`` on the CPU); the rewritten
program's shape, with a grid barrier, a cluster barrier (``TILEDSL_SPLIT_K_SUM=cluster``) or a count of finished
parts (``=last``), whose epilogue reads unwritten inputs early. nvcc (sm_90a): two kernels, or one with the cluster
or last-part form; each keeps its TMA ring. GPU: both programs against torch with 4 and 8 parts and with ``auto``, in
each form; the last-part form called again and again on two streams; an epilogue reading a scale, a residual and
its own output.
"""
import pytest
import torch

import tiledsl
from tiledsl.passes import split_k as split_k_module
from tiledsl.passes.split_k import split_k

import general_programs as bench


pytestmark = pytest.mark.usefixtures("general_passes_only")


def _int8_case(M, N, K, **cfg):
    a = torch.randn(M, K).half()
    w = torch.randint(-127, 128, (K, N), dtype=torch.int8)
    s = torch.rand(N) / 64
    return bench.int8_weight_gemm(M, N, K, **cfg), [a, w, s], (a.double() @ w.double()) * s.double()


def _run(program, inputs, want, device="cpu", target="llvm"):
    kernel = tiledsl.compile(program, out_idx=[], target=target)
    inputs = [t.to(device) for t in inputs]
    out = torch.full(tuple(want.shape), float("nan"), dtype=torch.float16, device=device)
    kernel(*inputs, out)
    if device == "cuda":
        torch.cuda.synchronize()
    assert not torch.isnan(out).any()
    torch.testing.assert_close(out.double().cpu(), want, rtol=2e-2, atol=2e-2 * float(want.abs().max()))
    return kernel


@pytest.mark.parametrize("parts", ["2", "4"])
def test_int8_weight_gemm_split_on_cpu_matches_torch(parts, monkeypatch):
    monkeypatch.setenv("TILEDSL_SPLIT_K", parts)
    program, inputs, want = _int8_case(16, 64, 512, block_M=32, block_N=32, block_K=64, threads=128)
    assert split_k(program, "llvm") is not program
    _run(program, inputs, want)


def test_transposed_gemm_split_on_cpu_matches_torch(monkeypatch):
    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    program = bench.gemm(32, 64, 512, block_M=32, block_N=64, block_K=32, trans_B=True)
    a, b = torch.randn(32, 512).half(), torch.randn(64, 512).half()
    _run(program, [a, b, torch.randn(32, 64).half()], a.double() @ b.double().T)  # (R: read only with a residual)


def test_the_split_program(monkeypatch):
    """A float32 workspace of (parts, grid rows x tile rows, grid columns x tile columns), blockIdx.z of the part
    count, each part's loop a quarter as long, the partial sums stored, a grid barrier, the sum and the epilogue
    in the first part's blocks."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    program = bench.int8_weight_gemm(16, 128, 512, block_M=32, block_N=32, block_K=64, threads=128)
    text = split_k(program, "llvm").script()
    assert 'C_f_split_k = T.alloc_buffer((4, 32, 128))' in text
    assert 'T.launch_thread("blockIdx.z", 4)' in text
    assert "for k_part in T.serial(2," in text and "(bz_split * 2 + k_part) * 64" in text
    assert "C_f_split_k[bz_split, by * 32:by * 32 + 32, bx * 32:bx * 32 + 32]" in text
    assert text.index("T.tiledsl.sync_grid()") < text.index("if bz_split == 0:") < text.index("S[bx * 32 + j]")


def test_programs_that_stay_as_written(monkeypatch):
    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    attention = bench.flash_attention(1, 2, 256, 64, False)  # its loop carries the softmax statistics
    batched = bench.batched_gemm(2, 128, 128, 256)  # blockIdx.z is taken
    uneven = bench.int8_weight_gemm(16, 128, 192, block_M=32, block_N=32, block_K=64, threads=128)  # 3 iterations
    for program in (attention, batched, uneven):
        assert split_k(program, "cuda") is program
    monkeypatch.setenv("TILEDSL_SPLIT_K", "auto")
    skinny = bench.int8_weight_gemm(16, 128, 1024, block_M=32, block_N=32, block_K=64, threads=128)
    assert split_k(skinny, "llvm") is skinny  # the CPU gains nothing from more blocks
    assert split_k(skinny, "cuda") is not skinny  # 4 blocks on 132 SMs
    full = bench.int8_weight_gemm(16, 4096, 512, block_M=32, block_N=32, block_K=64, threads=128)
    assert split_k(full, "cuda") is full  # 128 blocks already fill the GPU
    monkeypatch.setenv("TILEDSL_SPLIT_K", "0")
    assert split_k(skinny, "cuda") is skinny


def test_an_epilogue_reading_state_from_before_the_loop_stays(monkeypatch):
    """A fragment filled before the loop and read by the epilogue would not reach the second launch: left alone,
    but split in the cluster form."""
    import tiledsl.language as T

    @T.prim_func
    def kernel(A: T.Tensor((32, 256), "float16"), B: T.Tensor((256, 64), "float16"), C: T.Tensor((32, 64), "float32")):
        with T.Kernel(1, 1, threads=128) as (bx, by):
            A_s = T.alloc_shared((32, 32), "float16")
            B_s = T.alloc_shared((32, 64), "float16")
            bias = T.alloc_fragment((32, 64), "float32")
            acc = T.alloc_fragment((32, 64), "float32")
            T.fill(bias, 1.0)
            T.clear(acc)
            for k in T.Pipelined(8, num_stages=2):
                T.copy(A[0, k * 32], A_s)
                T.copy(B[k * 32, 0], B_s)
                T.gemm(A_s, B_s, acc)
            for i, j in T.Parallel(32, 64):
                acc[i, j] = acc[i, j] + bias[i, j]
            T.copy(acc, C[0, 0])
    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "launch")
    assert split_k(kernel, "cuda") is kernel
    assert split_k(kernel, "cuda", "sm_90a") is kernel
    monkeypatch.delenv("TILEDSL_SPLIT_K_SUM")
    monkeypatch.setenv("TILEDSL_SPLIT_K_CLUSTER", "1")  # one launch: the first part keeps its state
    assert "tiledsl_cluster_barrier" in split_k(kernel, "cuda", "sm_90a").script()
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "last")  # one launch: the last part keeps its state
    assert "tiledsl_split_k_ticket" in split_k(kernel, "cuda", "sm_80").script()


def test_a_bad_setting_is_named(monkeypatch):
    monkeypatch.setenv("TILEDSL_SPLIT_K", "many")
    with pytest.raises(ValueError, match="TILEDSL_SPLIT_K"):
        split_k(bench.gemm(32, 64, 512), "cuda")
    monkeypatch.setenv("TILEDSL_SPLIT_K", "2")
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "atomics")
    with pytest.raises(ValueError, match="TILEDSL_SPLIT_K_SUM='atomics': use one of auto, launch, last, cluster"):
        split_k(bench.gemm(32, 64, 512), "cuda")


def test_the_last_part_form_of_the_split_program(monkeypatch):
    """TILEDSL_SPLIT_K_SUM=last on CUDA: one launch; each block stores its partial sums, and after a block barrier
    thread 0 counts the block in at its tile's counter with one release-acquire atomic (no ``__threadfence``);
    the block that counts last (told to every thread by ``__syncthreads_or``: its ticket is parts - 1 modulo
    parts) takes the launch's counts back off, adds the other parts' sums (read past L1) and runs the epilogue. The
    counters are a workspace the runtime keeps zeroed. The CPU keeps the two launches. (The whole-block count and
    the output's layout, as before their defaults: the group count and register order have tests of their own.)"""
    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "last")
    monkeypatch.setenv("TILEDSL_SPLIT_K_GROUP_COUNT", "0")
    monkeypatch.setenv("TILEDSL_SPLIT_K_REGISTER_ORDER", "0")
    program = bench.int8_weight_gemm(16, 128, 512, block_M=32, block_N=32, block_K=64, threads=128)
    split = split_k(program, "cuda", "sm_80")
    text = split.script()
    assert "sync_grid" not in text and "cluster" not in text and 'T.launch_thread("blockIdx.z", 4)' in text
    order = [text.index(t) for t in ("C_f_split_k[bz_split,", "T.tvm_storage_sync", '"__syncthreads_or"',
                                     '"tiledsl_split_k_ticket"', "if last_part != 0:",
                                     "C_f_split_k_count[by * 4 + bx]), -4)", '"__ldcg"', "C[by * 32")]
    assert order == sorted(order), order
    assert "__threadfence" not in text and text.count("tiledsl_split_k_ticket(int* counter)") == 1
    assert [str(n) for n in split.attrs["tiledsl.zeroed_workspaces"]] == ["C_f_split_k_count"]
    assert "sync_grid" in split_k(program, "llvm").script()
    kernel = tiledsl.compile(program, out_idx=[], target={"kind": "cuda", "arch": "sm_90a"})
    assert [(p.name, p.shape, p.zeroed) for p in kernel.workspace_params] == [
        ("C_f_split_k", (4, 32, 128), False), ("C_f_split_k_count", (4,), True)]
    source = kernel.get_kernel_source()
    assert source.count("__global__ void") == 2  # one kernel, declared and defined
    assert "atom.acq_rel.gpu.global.add.s32" in source and "__threadfence" not in source


def test_the_default_splits_few_block_grids_on_cuda_only(monkeypatch):
    """TILEDSL_SPLIT_K unset (``auto``): on CUDA a grid of at most half the SMs is split into the most parts (up to
    8, 8 iterations each) that keep 8 warps per SM: 32 blocks of 8 warps -> 4 parts, 64 blocks of 4 warps -> 4,
    8 blocks of 8 warps -> 8; a loop of 8 iterations stays whole, one of 16 takes 2 parts; 128 blocks stay whole; the CPU never splits; a program the whole-kernel Hopper GEMM
    takes is left to it (it splits K its own way)."""
    monkeypatch.delenv("TILEDSL_SPLIT_K", raising=False)

    def parts(program, target="cuda", arch="sm_90a"):
        split = split_k(program, target, arch)
        if split is program:
            return 1
        text = split.script()
        return int(text.split('T.launch_thread("blockIdx.z", ', 1)[1].split(")", 1)[0])
    assert parts(bench.int8_weight_gemm(16, 4096, 4096, block_M=16, block_N=128, block_K=64, threads=256)) == 4
    assert parts(bench.int8_weight_gemm(16, 4096, 4096, block_M=16, block_N=64, block_K=128, threads=128)) == 4
    assert parts(bench.int8_weight_gemm(16, 4096, 4096, block_M=32, block_N=32, block_K=256, threads=128)) == 1
    assert parts(bench.int8_weight_gemm(16, 4096, 512, block_M=16, block_N=128, block_K=64, threads=256)) == 1
    assert parts(bench.int8_weight_gemm(16, 4096, 1024, block_M=16, block_N=128, block_K=64, threads=256)) == 2
    assert parts(bench.int8_weight_gemm(16, 4096, 4096, block_M=16, block_N=128, block_K=64, threads=256),
                 "llvm", "") == 1
    canonical = bench.gemm(64, 1024, 4096, block_M=64, block_N=128, block_K=64, threads=128)
    assert parts(canonical) == 8
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "0")  # the whole-kernel shortcut allowed
    assert parts(canonical) == 1


def _blockidx_z(program, target="llvm", arch=""):
    split = split_k(program, target, arch)
    if split is program:
        return 1
    return int(split.script().split('T.launch_thread("blockIdx.z", ', 1)[1].split(")", 1)[0])


def test_a_program_chooses_its_parts(monkeypatch):
    """``T.func_attr({"tiledsl.split_k": S})`` (a tunable factory parameter): S parts whatever TILEDSL_SPLIT_K says
    (the suite sets 0), on the CPU too, and the sums right; 1 keeps ``auto`` from splitting; a count that does not
    divide the loop or is not an int is named."""
    from tiledsl.errors import TileProgramError
    from tiledsl.passes.split_k import SPLIT_K_ATTR

    program, inputs, want = _int8_case(16, 64, 512, block_M=32, block_N=32, block_K=64, threads=128)  # 8 iterations
    assert _blockidx_z(program) == 1
    asked = program.with_attr(SPLIT_K_ATTR, 4)
    assert _blockidx_z(asked) == 4
    _run(asked, inputs, want)
    monkeypatch.delenv("TILEDSL_SPLIT_K", raising=False)  # auto: this 2-block grid splits on CUDA, unless told not to
    skinny = bench.int8_weight_gemm(16, 4096, 4096, block_M=16, block_N=128, block_K=64, threads=256)
    assert _blockidx_z(skinny, "cuda", "sm_90a") == 4
    assert _blockidx_z(skinny.with_attr(SPLIT_K_ATTR, 1), "cuda", "sm_90a") == 1
    assert _blockidx_z(skinny.with_attr(SPLIT_K_ATTR, 2), "cuda", "sm_90a") == 2
    with pytest.raises(TileProgramError, match="does not divide the 8 iterations"):
        split_k(program.with_attr(SPLIT_K_ATTR, 3), "llvm")
    with pytest.raises(TileProgramError, match="must be an int"):
        split_k(program.with_attr(SPLIT_K_ATTR, "four"), "llvm")


def test_a_factory_sets_its_parts_with_func_attr():
    """The attribute as a program writes it, through ``tiledsl.compile``: the split kernel's sums are right."""
    import tiledsl.language as T

    M, N, K = 32, 64, 1024

    @T.prim_func
    def gemm(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), C: T.Tensor((M, N), "float16")):
        T.func_attr({"tiledsl.split_k": 4})
        with T.Kernel(T.ceildiv(N, 64), T.ceildiv(M, 32), threads=128) as (bx, by):
            A_s = T.alloc_shared((32, 64), "float16")
            B_s = T.alloc_shared((64, 64), "float16")
            C_f = T.alloc_fragment((32, 64), "float32")
            T.clear(C_f)
            for k in T.Pipelined(K // 64, num_stages=2):
                T.copy(A[by * 32, k * 64], A_s)
                T.copy(B[k * 64, bx * 64], B_s)
                T.gemm(A_s, B_s, C_f)
            T.copy(C_f, C[by * 32, bx * 64])
    assert _blockidx_z(gemm) == 4
    a, b = torch.randn(M, K).half(), torch.randn(K, N).half()
    _run(gemm, [a, b], a.double() @ b.double())


def test_the_sum_form_auto(monkeypatch):
    """TILEDSL_SPLIT_K_SUM=auto (the default): the last-part form, its count on the program's threads; with the
    whole-block count (TILEDSL_SPLIT_K_GROUP_COUNT=0) only for tiles of fewer than 64 rows (mma.sync), two
    launches for wgmma-sized tiles, whose producer warpgroup that count would cost; the CPU always two launches."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    small = bench.int8_weight_gemm(16, 128, 512, block_M=32, block_N=32, block_K=64, threads=128)
    large = bench.int8_weight_gemm(64, 256, 512, block_M=64, block_N=128, block_K=64, threads=128)
    for program in (small, large):
        text = split_k(program, "cuda", "sm_90a").script()
        assert "tiledsl_split_k_any" in text and "sync_grid" not in text
    assert "sync_grid" in split_k(small, "llvm").script()
    monkeypatch.setenv("TILEDSL_SPLIT_K_GROUP_COUNT", "0")
    assert "__syncthreads_or" in split_k(small, "cuda", "sm_90a").script()
    assert "sync_grid" in split_k(large, "cuda", "sm_90a").script()


def test_the_cluster_form_of_the_split_program(monkeypatch):
    """TILEDSL_SPLIT_K_CLUSTER=1 on sm_90: the parts of a tile are one cluster along z; a cluster barrier instead
    of the grid barrier. With TILEDSL_SPLIT_K_SUM=launch, the grid barrier."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    program = bench.int8_weight_gemm(16, 128, 512, block_M=32, block_N=32, block_K=64, threads=128)
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "launch")
    assert "sync_grid" in split_k(program, "cuda", "sm_90a").script()
    monkeypatch.delenv("TILEDSL_SPLIT_K_SUM")
    monkeypatch.setenv("TILEDSL_SPLIT_K_CLUSTER", "1")
    text = split_k(program, "cuda", "sm_90a").script()
    assert 'T.launch_thread("clusterCtaIdx.z", 4)' in text and 'T.launch_thread("blockIdx.z", 4)' in text
    assert "sync_grid" not in text and "C_f_split_k[" not in text  # the sums stay on chip: 3 x 32 x 32 floats
    put, barrier = 'attrs={"rank": 0, "register_order": 1}', 'T.cuda.func_call("tiledsl_cluster_barrier"'
    assert text.index("C_f__tiledsl_cluster_slots = T.alloc_shared((3072,))") < text.index("if bz_split != 0:") < \
        text.index(put) < text.index(barrier) < text.index("if bz_split == 0:") < text.index('"accumulate": 1')
    monkeypatch.setattr(split_k_module, "CLUSTER_SHARED_BYTES", 8 * 1024)  # too large: the global workspace
    text = split_k(program, "cuda", "sm_90a").script()
    assert "C_f__tiledsl_cluster_slots" not in text
    assert text.index("C_f_split_k[bz_split,") < text.index(barrier) < text.index("if bz_split == 0:")
    assert "sync_grid" in split_k(program, "cuda", "sm_80").script()  # no clusters before sm_90
    monkeypatch.setenv("TILEDSL_SPLIT_K", "16")
    long = bench.int8_weight_gemm(16, 128, 2048, block_M=32, block_N=32, block_K=64, threads=128)
    assert "sync_grid" in split_k(long, "cuda", "sm_90a").script()  # more parts than a cluster holds


@pytest.mark.nvcc
@pytest.mark.parametrize("form", ["cluster", "launch", "last"])
def test_the_split_keeps_its_tma_ring(form, monkeypatch):
    """Every form keeps the TMA ring and the producer warpgroup (the last part's count of finished parts waits on
    the program's threads only); with a whole-block count (TILEDSL_SPLIT_K_GROUP_COUNT=0) the last-part form keeps
    the ring without a producer, which that barrier would wait for."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", form)
    kernel = tiledsl.compile(bench.gemm(64, 1024, 4096, block_M=64, block_N=128), out_idx=[],
                             target={"kind": "cuda", "arch": "sm_90a"})
    assert kernel.kernel_info["pipelines"] == ["tma+warp_specialized"]
    src = kernel.get_kernel_source()
    assert "C_f_split_k" in src
    if form == "cluster":  # one kernel, each declared and defined; its tile's parts meet at a cluster barrier
        assert src.count("__global__ void") == 2 and "barrier.cluster.arrive" in src
    elif form == "last":
        assert src.count("__global__ void") == 2 and "bar.red.or.pred" in src and "__syncthreads_or" not in src
        monkeypatch.setenv("TILEDSL_SPLIT_K_GROUP_COUNT", "0")
        kernel = tiledsl.compile(bench.gemm(64, 1024, 4096, block_M=64, block_N=128), out_idx=[],
                                 target={"kind": "cuda", "arch": "sm_90a"})
        assert kernel.kernel_info["pipelines"] == ["tma"] and "__syncthreads_or" in kernel.get_kernel_source()
    else:  # two kernels
        assert src.count("__global__ void") == 4 and "barrier.cluster" not in src


def test_the_group_count_waits_on_the_programs_threads_only(monkeypatch):
    """``TILEDSL_SPLIT_K_GROUP_COUNT`` (the default): the last-part form's barrier and shared answer are a named
    barrier of the program's 256 threads (``bar.sync 12, 256``, ``bar.red.or`` in a helper), no ``__syncthreads``;
    ``0``: ``__syncthreads``."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "last")
    monkeypatch.setenv("TILEDSL_SPLIT_K_GROUP_COUNT", "0")
    program = bench.gemm(64, 1024, 4096, block_M=64, block_N=128)
    text = split_k(program, "cuda", "sm_90a").script()
    assert "T.tvm_storage_sync" in text and "__syncthreads_or" in text and "tiledsl_split_k_any" not in text
    monkeypatch.setenv("TILEDSL_SPLIT_K_GROUP_COUNT", "1")
    text = split_k(program, "cuda", "sm_90a").script()
    assert "T.tvm_storage_sync" not in text and "__syncthreads_or" not in text
    assert 'T.ptx.bar(T.uint32(12), T.uint32(256), "", "sync", "")' in text and "tiledsl_split_k_any" in text
    assert text.index("T.ptx.bar(T.uint32(12)") < text.index("tiledsl_split_k_ticket")


def _fp16_case(rows: int, **gemm_args):
    """(program, inputs, float64 result) of an fp16 GEMM of ``rows`` x 1024 x 4096 in 64 x 128 wgmma tiles
    (``gemm_args``: more of ``general_programs.gemm``'s; ``staged=True``: TileLang's GEMM example form, the result
    staged through a shared tile)."""
    a, b = torch.randn(rows, 4096).half(), torch.randn(4096, 1024).half()
    return (bench.gemm(rows, 1024, 4096, block_M=64, block_N=128, **gemm_args),
            [a, b, torch.randn(rows, 1024).half()], a.double() @ b.double())


@pytest.mark.parametrize("form", ["auto", "last"])
def test_an_epilogue_with_block_barriers_sums_in_a_second_launch(form, monkeypatch):
    """An epilogue through a shared tile (or a reduction) takes barriers among the block's threads, which the
    last-part form would put in a branch on the count: such a program sums its parts in a second launch."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", "2")
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", form)
    staged = _fp16_case(64, staged=True)[0]
    text = split_k(staged, "cuda", "sm_90a").script()
    assert "sync_grid" in text and "tiledsl_split_k_any" not in text
    plain = bench.gemm(64, 1024, 4096, block_M=64, block_N=128)
    assert "tiledsl_split_k_any" in split_k(plain, "cuda", "sm_90a").script()


@pytest.mark.nvcc
def test_a_staged_epilogue_builds_split(monkeypatch):
    """TileLang's GEMM example form with the default split: it builds (with every schedule: the suite's builds are
    strict) as two kernels, the main loop warp-specialized."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", "auto")
    kernel = tiledsl.compile(_fp16_case(64, staged=True)[0], out_idx=[], target={"kind": "cuda", "arch": "sm_90a"})
    assert kernel.get_kernel_source().count("__global__ void") == 4  # two kernels, declared and defined
    assert kernel.kernel_info["pipelines"] == ["tma+warp_specialized"]


@pytest.mark.gpu
@pytest.mark.parametrize("rows", [64, 16])
def test_a_staged_epilogue_split_matches_torch_on_the_gpu(rows, monkeypatch):
    monkeypatch.setenv("TILEDSL_SPLIT_K", "auto")
    _run(*_fp16_case(rows, staged=True), device="cuda", target="cuda")


@pytest.mark.nvcc
def test_the_group_count_keeps_the_producer_warpgroup(monkeypatch):
    """With it (the default), the last-part form of a wgmma GEMM is one warp-specialized kernel on a persistent
    grid: the count no longer waits for the producer warpgroup; ``TILEDSL_SPLIT_K_SUM=auto`` takes that form."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", "2")
    kernel = tiledsl.compile(bench.gemm(64, 1024, 4096, block_M=64, block_N=128), out_idx=[],
                             target={"kind": "cuda", "arch": "sm_90a"})
    assert kernel.kernel_info["pipelines"] == ["tma+warp_specialized"]
    src = kernel.get_kernel_source()
    assert src.count("__global__ void") == 2 and "bar.red.or.pred" in src and "__syncthreads_or" not in src


@pytest.mark.gpu
@pytest.mark.parametrize("parts", ["2", "4"])
def test_the_group_count_matches_torch_on_the_gpu(parts, monkeypatch):
    """The warp-specialized last-part form (``TILEDSL_SPLIT_K_GROUP_COUNT=1``, the default; passed on the H100,
    2026-12-07):
    fp16 on wgmma and the int8-weight GEMM, ten calls each with fresh inputs, some on a second stream."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", parts)
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "last")
    monkeypatch.setenv("TILEDSL_SPLIT_K_GROUP_COUNT", "1")

    for kernel in _calls_on_two_streams(_fp16_or_int8_case(64, threads=256)):
        assert kernel.kernel_info["pipelines"] == ["tma+warp_specialized"]


@pytest.mark.gpu
@pytest.mark.parametrize("group", ["0", "1"])
@pytest.mark.parametrize("parts", ["2", "4"])
def test_register_order_sums_match_torch_on_the_gpu(parts, group, monkeypatch):
    """The last part's sums passed in the accumulators' register order (``TILEDSL_SPLIT_K_REGISTER_ORDER=1``, the
    default; passed on the H100, 2026-12-07): fp16 on wgmma and the int8-weight GEMM on mma.sync, ten calls each
    with fresh inputs, some on a second stream."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", parts)
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "last")
    monkeypatch.setenv("TILEDSL_SPLIT_K_GROUP_COUNT", group)
    monkeypatch.setenv("TILEDSL_SPLIT_K_REGISTER_ORDER", "1")

    for kernel in _calls_on_two_streams(_fp16_or_int8_case(16, threads=128)):
        assert "tiledsl_add_pair_cg" in kernel.get_kernel_source()


@pytest.mark.nvcc
def test_register_order_sums_are_whole_runs_per_warp(monkeypatch):
    """Each thread stores and adds its registers in pairs at (r * threads + t) * 2: a warp's access is 256
    contiguous bytes (nvcc build; the GPU test above checks the sums)."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", "2")
    src = tiledsl.compile(bench.gemm(16, 1024, 4096, block_M=64, block_N=128, threads=128), out_idx=[],
                          target={"kind": "cuda", "arch": "sm_90a"}).get_kernel_source()
    assert src.count("tiledsl_add_pair_cg((&(C_f_ptr[") == 32  # 64 registers a thread, two at a time
    assert src.count("*(float2*)(C_f_split_k_ptr + ") == 32 and "((int)threadIdx.x) * 2)" in src


@pytest.mark.parametrize("parts", [2, 3, 4, 8])
def test_the_flat_gather_visits_every_other_part_once(parts, monkeypatch):
    """``TILEDSL_SPLIT_K_FLAT_GATHER``'s branch-free loop: for each part of its own, the last block's loop reaches
    every other part exactly once (the index expression evaluated for every value)."""
    from tvm import tirx
    from tvm.sym import Analyzer

    from tiledsl.passes.rewriter import substitute

    monkeypatch.setenv("TILEDSL_SPLIT_K_FLAT_GATHER", "1")
    s, bz = tirx.Var("part", "int32"), tirx.Var("bz", "int32")
    loop = split_k_module._over_other_parts(s, parts, bz, tirx.Evaluate(s))
    assert loop.kind == tirx.ForKind.UNROLLED and int(loop.extent) == parts - 1
    index = loop.body.value
    visited = []
    for own in range(parts):
        seen = [int(Analyzer().simplify(substitute(index, {loop.loop_var: tirx.const(o, "int32"),
                                                           bz: tirx.const(own, "int32")})))
                for o in range(parts - 1)]
        visited.append(sorted(seen))
    assert visited == [[p for p in range(parts) if p != own] for own in range(parts)]


@pytest.mark.gpu
@pytest.mark.parametrize("parts", ["2", "4"])
def test_flat_gather_and_fenced_conversion_match_torch_on_the_gpu(parts, monkeypatch):
    """``TILEDSL_SPLIT_K_FLAT_GATHER=1`` and ``TILEDSL_FENCE_AFTER_CONVERSION=1`` (opt-in, written 2026-12-07
    without a device): fp16 on wgmma and the int8-weight GEMM at M = 16, ten calls each with fresh inputs, some on a
    second stream."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", parts)
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "last")
    monkeypatch.setenv("TILEDSL_SPLIT_K_FLAT_GATHER", "1")
    monkeypatch.setenv("TILEDSL_FENCE_AFTER_CONVERSION", "1")
    for kernel in _calls_on_two_streams(_fp16_or_int8_case(16, threads=128)):
        assert "tiledsl_add_pair_cg" in kernel.get_kernel_source()


@pytest.mark.nvcc
def test_cluster_sums_through_shared_memory_keep_the_producer_warpgroup(monkeypatch):
    """The int8-weight GEMM at M = 16 (the benchmark's tiles) in the cluster form: the other parts store their sums
    into part 0's shared memory and the loop stays warp-specialized (the slots need no block barrier)."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "cluster")
    program = bench.int8_weight_gemm(16, 4096, 4096, block_M=16, block_N=128, block_K=64, stages=8, threads=256)
    kernel = tiledsl.compile(program, out_idx=[], target={"kind": "cuda", "arch": "sm_90a"})
    assert kernel.kernel_info["pipelines"] == ["tma+warp_specialized"]
    src = kernel.get_kernel_source()
    assert src.count("tiledsl_put_pair_rank(C_f__tiledsl_cluster_slots_ptr, ") == 4  # 8 registers a thread, in pairs
    assert src.count("tiledsl_add_pair_shared((&(C_f_ptr[") == 12  # 3 other parts
    assert "float C_f__tiledsl_cluster_slots_ptr[6144];" in src  # whole: 3 parts x 2048 (not compacted by TVM)
    assert "C_f_split_k[" not in src and "atom." not in src.split("tiledsl_cluster_barrier();")[-1]
    assert src.index("S_early") < src.rindex("tiledsl_cluster_barrier();")  # the scale read before the barrier


@pytest.mark.gpu
@pytest.mark.parametrize("parts,block_N", [("2", 128), ("4", 128), ("8", 64)])
def test_cluster_sums_through_shared_memory_match_torch_on_the_gpu(parts, block_N, monkeypatch):
    """The cluster form's sums through part 0's shared memory (written 2026-12-08): the int8-weight GEMM at M = 16
    (its scale read before the cluster barrier) and an fp16 GEMM on wgmma, ten calls with fresh inputs, some on a
    second stream; the fp16 tiles of 4 parts do not fit and go through the global workspace."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", parts)
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "cluster")
    kernels = _calls_on_two_streams(_fp16_or_int8_case(16, threads=128, int8_block_N=block_N))
    assert all("tiledsl_put_pair_rank" in k.get_kernel_source() for k in kernels[1::2])
    assert ("tiledsl_put_pair_rank" in kernels[0].get_kernel_source()) == (parts == "2")


def _fp16_or_int8_case(rows: int, threads: int, int8_block_N: int = 128):
    """A ``case(call)`` for :func:`_calls_on_two_streams`: odd calls the int8-weight GEMM at M = 16 in 16 x
    ``int8_block_N`` tiles, even ones an fp16 GEMM of ``rows`` x 1024 x 4096 in 64 x 128 wgmma tiles over
    ``threads``."""
    def case(call):
        if call % 2:
            return _int8_case(16, 1024, 4096, block_M=16, block_N=int8_block_N, block_K=64, threads=256)
        return _fp16_case(rows, threads=threads)
    return case


def _calls_on_two_streams(case, calls=10):
    """Build and run ``case(call)``'s (program, inputs, want) ``calls`` times with fresh inputs, every third call on
    a second stream, each checked against torch; the kernels."""
    side, kernels = torch.cuda.Stream(), []
    for call in range(calls):
        program, inputs, want = case(call)
        if call % 3 == 2:
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                kernels.append(_run(program, inputs, want, device="cuda", target="cuda"))
            torch.cuda.current_stream().wait_stream(side)
        else:
            kernels.append(_run(program, inputs, want, device="cuda", target="cuda"))
    return kernels


@pytest.mark.gpu
@pytest.mark.parametrize("parts,form", [("4", "cluster"), ("8", "cluster"), ("auto", "cluster"), ("4", "launch"),
                                        ("auto", "launch"), ("4", "last"), ("8", "last"), ("auto", "last")])
def test_split_gemms_match_torch_on_the_gpu(parts, form, monkeypatch):
    monkeypatch.setenv("TILEDSL_SPLIT_K", parts)
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", form)
    program, inputs, want = _int8_case(16, 1024, 4096, block_M=64, block_N=128, block_K=128, threads=256)
    assert split_k(program, "cuda") is not program
    _run(program, inputs, want, device="cuda", target="cuda")
    _run(*_fp16_case(64), device="cuda", target="cuda")


@pytest.mark.gpu
def test_the_last_part_form_counts_afresh_on_every_call_and_stream(monkeypatch):
    """The per-tile counters must be back at zero after each launch: ten calls with fresh inputs, some on a second
    stream (its own counters), each against torch; a skinny 16 x 64 tile over 8 warps (ldmatrix .x2)."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "last")
    kernel = _calls_on_two_streams(
        lambda call: _int8_case(16, 1024, 2048, block_M=16, block_N=64, block_K=128, threads=256))[-1]
    program, inputs, want = _int8_case(16, 1024, 2048, block_M=16, block_N=64, block_K=128, threads=256)
    assert len(kernel._zeroed) == 2  # noqa: SLF001 - one counter array per stream
    assert all(int(t.abs().sum()) == 0 for t in kernel._zeroed.values())  # noqa: SLF001
    # counters overwritten by mistake still find one last part per tile (tickets are counted modulo the parts) and
    # are left as found; the profiler's bind, which poisons outputs and workspaces, leaves the counters alone
    for counts in kernel._zeroed.values():  # noqa: SLF001
        counts.fill_(-7)
    _run(program, inputs, want, device="cuda", target="cuda")
    assert all(int(v) == -7 for t in kernel._zeroed.values() for v in t)  # noqa: SLF001
    returning = tiledsl.compile(program, out_idx=[3], target="cuda")
    run, (out,) = tiledsl.profiler.bind(returning, [t.cuda() for t in inputs])
    assert bool(out.isnan().all())
    run()
    run()
    torch.cuda.synchronize()
    torch.testing.assert_close(out.double().cpu(), want, rtol=2e-2, atol=2e-2 * float(want.abs().max()))
    assert [int(t.abs().sum()) for t in returning._zeroed.values()] == [0]  # noqa: SLF001


@pytest.mark.nvcc
def test_a_split_that_does_not_build_leaves_the_program_as_written(monkeypatch):
    """The split is a rewrite the user did not write: when it does not build (here: a call nvcc does not know
    added to it), the program is built as written; with TILEDSL_STRICT_SCHEDULES=1 (the test suite's setting)
    the failure is raised instead, so no test hides one."""
    import tvm_ffi
    from tvm import tirx

    import tiledsl.runtime.compiler as compiler

    def broken_split(func, *args):  # the call goes first in the body of the threadIdx.x launch
        def put(node):
            if node.attr_key == "thread_extent" and str(node.node.thread_tag) == "threadIdx.x":
                call = tirx.Evaluate(tirx.call_extern("int32", "no_such_device_function"))
                return tirx.AttrStmt(node.node, node.attr_key, node.value, tirx.SeqStmt([call, node.body]))
            return node
        return func.with_body(tvm_ffi.structural_map(func.body, [(tirx.AttrStmt, put)], order="post"))
    monkeypatch.setattr(compiler, "split_k", broken_split)
    program = bench.int8_weight_gemm(16, 128, 256, block_M=16, block_N=64, block_K=64, threads=128)
    with pytest.raises(tiledsl.CompileError, match="no_such_device_function"):
        tiledsl.compile(program, out_idx=[], target={"kind": "cuda", "arch": "sm_90a"})
    monkeypatch.setenv("TILEDSL_STRICT_SCHEDULES", "0")
    kernel = tiledsl.compile(program, out_idx=[], target={"kind": "cuda", "arch": "sm_90a"})
    assert "no_such_device_function" not in kernel.get_kernel_source()
    assert bench.gemm_instruction(kernel.get_kernel_source()) == "wgmma"


def test_the_last_part_form_counts_each_block_once(monkeypatch):
    """A block of 64 x 2 threads is counted in by its thread (0, 0) alone; an epilogue that already spans launches
    (``T.sync_grid()``) is left as written."""
    import tiledsl.language as T

    def program(grid_sync):
        @T.prim_func
        def kernel(A: T.Tensor((32, 256), "float16"), B: T.Tensor((256, 64), "float16"),
                   C: T.Tensor((32, 64), "float32")):
            with T.Kernel(1, 1, threads=(64, 2)) as (bx, by):
                A_s = T.alloc_shared((32, 32), "float16")
                B_s = T.alloc_shared((32, 64), "float16")
                acc = T.alloc_fragment((32, 64), "float32")
                T.clear(acc)
                for k in T.Pipelined(8, num_stages=2):
                    T.copy(A[0, k * 32], A_s)
                    T.copy(B[k * 32, 0], B_s)
                    T.gemm(A_s, B_s, acc)
                if grid_sync:
                    T.sync_grid()
                T.copy(acc, C[0, 0])
        return kernel
    monkeypatch.setenv("TILEDSL_SPLIT_K", "2")
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "last")
    text = split_k(program(False), "cuda", "sm_90a").script()
    count = next(line for line in text.splitlines() if "__syncthreads_or" in line)
    assert "T.if_then_else(v == 0 and v_1 == 0," in count
    waits = program(True)
    assert split_k(waits, "cuda", "sm_90a") is waits


@pytest.mark.nvcc
def test_a_zeroed_workspace_stays_one_through_the_disk_cache(monkeypatch):
    """The counters' ``zeroed`` mark is part of the kernel's stored parameters: a kernel loaded from the disk cache
    in a fresh process (here: the memory cache cleared) keeps them out of reach of poisoning and allocation per
    call."""
    from tiledsl.runtime import compiler

    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "last")
    program = bench.int8_weight_gemm(16, 128, 512, block_M=16, block_N=64, block_K=64, threads=128)
    built = tiledsl.compile(program, out_idx=[3], target={"kind": "cuda", "arch": "sm_90a"})
    compiler.clear_memory_cache()
    hits = compiler.STATS["disk_hits"]
    loaded = tiledsl.compile(program, out_idx=[3], target={"kind": "cuda", "arch": "sm_90a"})
    assert loaded is not built and compiler.STATS["disk_hits"] == hits + 1
    assert [(p.name, p.zeroed) for p in loaded.workspace_params] == [("C_f_split_k", False),
                                                                    ("C_f_split_k_count", True)]


@pytest.mark.nvcc
def test_the_default_split_of_the_timed_skinny_programs(monkeypatch):
    """The programs behind the default's measurements (RESULTS.md), built for sm_90a as the default splits them:
    the fp16 GEMM 16 x 4096 x 4096 on 64 x 128 tiles and the int8-weight GEMM at M = 16 on 16 x 128 x 64 tiles of
    8 warps (the weight converted in registers), each in 4 parts on wgmma, summed by the last part in one launch
    in register order, keeping the TMA ring and the producer warpgroup."""
    monkeypatch.delenv("TILEDSL_SPLIT_K", raising=False)
    target = {"kind": "cuda", "arch": "sm_90a"}
    fp16 = tiledsl.compile(bench.gemm(16, 4096, 4096, block_M=64, block_N=128, block_K=64, threads=256), out_idx=[],
                           target=target)
    src = fp16.get_kernel_source()
    assert fp16.kernel_info["pipelines"] == ["tma+warp_specialized"] and bench.gemm_instruction(src) == "wgmma"
    assert src.count("__global__ void") == 2 and "tiledsl_add_pair_cg" in src
    assert [p.shape for p in fp16.workspace_params] == [(4, 32, 8192), (32,)]
    int8 = tiledsl.compile(bench.int8_weight_gemm(16, 4096, 4096, block_M=16, block_N=128, block_K=64, threads=256,
                                                  stages=8), out_idx=[], target=target)
    src = int8.get_kernel_source()
    assert bench.gemm_instruction(src) == "wgmma" and src.count("__global__ void") == 2
    assert int8.kernel_info["pipelines"] == ["tma+warp_specialized"] and "tiledsl_add_pair_cg" in src
    assert [p.shape for p in int8.workspace_params] == [(4, 32, 2048), (32,)]


def _scaled_residual(in_place):
    """C = (A @ B) * S[n] + R (``in_place``: + C, the output read before it is written), then + S[n] on the first
    8 rows (a branch); 32 x 32 tiles, 2 x 1 blocks of 128 threads, 16 k steps."""
    import tiledsl.language as T

    @T.prim_func
    def kernel(A: T.Tensor((32, 512), "float16"), B: T.Tensor((512, 64), "float16"), S: T.Tensor((64,), "float32"),
               R: T.Tensor((32, 64), "float32"), C: T.Tensor((32, 64), "float32")):
        with T.Kernel(2, 1, threads=128) as (bx, by):
            A_s = T.alloc_shared((32, 32), "float16")
            B_s = T.alloc_shared((32, 32), "float16")
            acc = T.alloc_fragment((32, 32), "float32")
            T.clear(acc)
            for k in T.Pipelined(16, num_stages=2):
                T.copy(A[by * 32, k * 32], A_s)
                T.copy(B[k * 32, bx * 32], B_s)
                T.gemm(A_s, B_s, acc)
            if in_place:
                for i, j in T.Parallel(32, 32):
                    acc[i, j] = acc[i, j] * S[bx * 32 + j] + C[by * 32 + i, bx * 32 + j]
            else:
                for i, j in T.Parallel(32, 32):
                    acc[i, j] = acc[i, j] * S[bx * 32 + j] + R[by * 32 + i, bx * 32 + j]
            for i, j in T.Parallel(32, 32):
                if i < 8:
                    acc[i, j] = acc[i, j] + S[bx * 32 + j]
            T.copy(acc, C[by * 32, bx * 32])
    return kernel


def _scaled_residual_inputs(device):
    a, b = torch.randn(32, 512).half(), torch.randn(512, 64).half()
    s, r = torch.rand(64) + 0.5, torch.randn(32, 64)
    want = (a.double() @ b.double()) * s.double() + r.double()
    want[:8] += s.double()
    return [t.to(device) for t in (a, b, s, r)], want


def test_the_last_part_reads_unwritten_inputs_before_its_ticket(monkeypatch):
    """The epilogue's reads of S and R (inputs no statement writes, at indices of the loop and block variables)
    are copied into fragments by every block before the barrier that precedes the ticket, and the epilogue reads
    the fragments; C (the kernel writes it) and the nest under a branch keep their reads (shown with the
    whole-block barrier, ``TILEDSL_SPLIT_K_GROUP_COUNT=0``)."""
    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "last")
    monkeypatch.setenv("TILEDSL_SPLIT_K_GROUP_COUNT", "0")
    text = split_k(_scaled_residual(False), "cuda", "sm_80").script()
    for name in ("S_early", "R_early"):
        assert text.index(f"{name} = T.alloc_buffer((32, 32)") < text.index("T.tvm_storage_sync") < text.index(
            f"* {name}[i, j]" if name == "S_early" else f"+ {name}[i, j]")
    assert text.count("S[bx * 32 + j]") == 2  # the early copy's and the branch's
    in_place = split_k(_scaled_residual(True), "cuda", "sm_80").script()
    assert "S_early" in in_place and "C_early" not in in_place and "+ C[by * 32 + i, bx * 32 + j]" in in_place
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "launch")
    assert "_early" not in split_k(_scaled_residual(False), "cuda", "sm_80").script()


@pytest.mark.gpu
@pytest.mark.parametrize("in_place", [False, True])
def test_early_epilogue_reads_match_torch_on_the_gpu(in_place, monkeypatch):
    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", "last")
    kernel = tiledsl.compile(_scaled_residual(in_place), out_idx=[], target="cuda")
    assert "S_early" in kernel.get_kernel_source()
    for _ in range(3):  # fresh inputs each call
        (a, b, s, r), want = _scaled_residual_inputs("cuda")
        c = r.clone() if in_place else torch.full((32, 64), float("nan"), device="cuda")
        kernel(a, b, s, torch.full_like(r, float("nan")) if in_place else r, c)
        torch.cuda.synchronize()
        torch.testing.assert_close(c.double().cpu(), want, rtol=1e-3, atol=1e-2)


@pytest.mark.parametrize("form", ["launch", "last"])
def test_an_int32_accumulator_splits_exactly(form, monkeypatch):
    """An int8 x int8 -> int32 GEMM (W8A8) splits like a float32 one, with an int32 workspace, in two launches
    whatever TILEDSL_SPLIT_K_SUM asks (the one form run with int32 sums on a GPU so far): on the CPU the result is
    exactly torch's integer product."""
    from test_wgmma_more_types import integer_gemm_matches, typed_gemm
    monkeypatch.setenv("TILEDSL_SPLIT_K", "4")
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", form)
    M, N, K = 16, 64, 512
    program = typed_gemm(M, N, K, block_M=16, block_N=32, block_K=32, threads=128)
    split = split_k(program, "cuda", "sm_80")
    text = split.script()
    assert 'C_f_split_k = T.alloc_buffer((4, 16, 64), "int32")' in text
    assert "sync_grid" in text and "__syncthreads_or" not in text
    kernel = tiledsl.compile(program, out_idx=[], target="llvm")
    assert integer_gemm_matches(kernel, M, N, K, "cpu")


@pytest.mark.gpu
@pytest.mark.parametrize("form", ["auto", "last"])
def test_split_int8_gemms_match_torch_exactly_on_the_gpu(form, monkeypatch):
    """W8A8 at M = 16 (16 tiles of 64 x 64 on wgmma: split by ``auto``; summed in a second launch whatever the form
    asked), against torch's integer product, twice with fresh inputs."""
    from test_wgmma_more_types import integer_gemm_matches, typed_gemm
    monkeypatch.setenv("TILEDSL_SPLIT_K", "auto")  # (conftest's default for the suite is 0)
    monkeypatch.setenv("TILEDSL_SPLIT_K_SUM", form)
    M, N, K = 16, 1024, 4096
    program = typed_gemm(M, N, K, block_M=64, block_N=64, block_K=128, stages=4, threads=128)
    assert split_k(program, "cuda") is not program
    kernel = tiledsl.compile(program, out_idx=[], target="cuda")
    for _ in range(2):
        assert integer_gemm_matches(kernel, M, N, K, "cuda")


@pytest.mark.slow
@pytest.mark.nvcc
def test_every_benchmark_program_builds_with_the_default_split(monkeypatch):
    """Every benchmark program at the GPU tests' sizes, built for sm_90a with ``TILEDSL_SPLIT_K=auto`` (the suite
    runs with it off) and strict schedules: a split that breaks a build (a staged epilogue did, 2026-12-07) fails
    here instead of silently costing the program its schedules."""
    import more_programs

    monkeypatch.setenv("TILEDSL_SPLIT_K", "auto")
    programs = {**bench.cases(small=True), **more_programs.cases(small=True)}
    split = []
    for name, case in programs.items():
        for kernel_name, program in case.kernels.items():
            if split_k(program, "cuda", "sm_90a") is not program:
                split.append(f"{name}/{kernel_name}")
                tiledsl.compile(program, out_idx=[], target={"kind": "cuda", "arch": "sm_90a"})
    assert "gemm_staged/main" in split and "int8_weight_m16/main" in split
