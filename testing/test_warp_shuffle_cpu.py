"""Warp shuffles (``T.tvm_warp_shuffle`` / ``_up`` / ``_down`` and TileLang's ``T.shfl_xor`` / ``shfl_down`` /
``shfl_up`` / ``shfl_sync``): programs of ours run on the CPU target (passes/lower_warp_shuffle_cpu.py) against
torch in float64 on fresh random inputs with poisoned outputs, the same programs built by nvcc for sm_90a, run on
a GPU where there is one, and the shuffles the CPU emulation refuses."""
import pytest
import torch

import tiledsl
import tiledsl.language as T
from conftest import poisoned_like
from tiledsl.errors import TileProgramError

CUDA = {"kind": "cuda", "arch": "sm_90a"}
FULL = 0xFFFFFFFF


# -- reference: CUDA's documented lane rules, per linear thread index --------------------------------------------

def source_thread(mode: str, tid: int, arg: int, width: int) -> int:
    """The thread whose value thread ``tid`` receives (CUDA programming guide, power-of-2 ``width``, 0 <= arg < 32)."""
    lane = tid % 32
    start = lane - lane % width  # this lane's segment of ``width`` lanes
    if mode == "idx":
        src = start + arg % width
    elif mode == "up":
        src = lane - arg if lane - arg >= start else lane
    elif mode == "down":
        src = lane + arg if lane + arg < start + width else lane
    else:  # xor: earlier segments may be read, later ones give the caller's own value
        src = lane ^ arg if lane ^ arg < start + width else lane
    return tid - lane + src


def shuffled(x: torch.Tensor, mode: str, args, width: int) -> torch.Tensor:
    """``x[:, source_thread(...)]`` per thread (``args[t]`` is thread t's lane or offset)."""
    index = [source_thread(mode, t, args[t], width) for t in range(x.shape[1])]
    return x[:, index]


def _device(target):
    return "cuda" if isinstance(target, dict) else "cpu"


def _shuffle_fn(api: str, mode: str, width: int):
    """A shuffle of (value, lane or offset) in one of the two spellings."""
    if api == "tilelang":
        name = {"idx": "shfl_sync", "up": "shfl_up", "down": "shfl_down", "xor": "shfl_xor"}[mode]
        return lambda v, a: getattr(T, name)(v, a, width)
    name = {"idx": "tvm_warp_shuffle", "up": "tvm_warp_shuffle_up", "down": "tvm_warp_shuffle_down"}[mode]
    return lambda v, a: getattr(T, name)(FULL, v, a, width, 32)


def permute_program(api, mode, width, threads, lane_of, rows=3):
    """Y[b, t] = the shuffle of X[b, t] with thread t's lane or offset ``lane_of(t)``."""
    shuffle = _shuffle_fn(api, mode, width)

    @T.prim_func
    def kernel(X: T.Tensor((rows, threads), "float64"), Y: T.Tensor((rows, threads), "float64")):
        with T.Kernel(rows, threads=threads) as b:
            tx = T.get_thread_binding()
            v = T.alloc_local((1,), "float64")
            v[0] = X[b, tx]
            Y[b, tx] = shuffle(v[0], lane_of(tx))

    return kernel


_LANES = {  # name -> (the lane or offset of thread t as a program expression, as a Python int)
    "const1": (lambda t: 1, lambda t: 1),
    "const3": (lambda t: 3, lambda t: 3),
    "const8": (lambda t: 8, lambda t: 8),
    "const16": (lambda t: 16, lambda t: 16),
    "const31": (lambda t: 31, lambda t: 31),
    "per_thread": (lambda t: (t * 7 + 3) % 32, lambda t: (t * 7 + 3) % 32),
}
_CASES = [(api, mode, width, lane) for api, modes in (("tilelang", ("idx", "up", "down", "xor")),
                                                      ("tvm", ("idx", "up", "down")))
          for mode in modes for width in (1, 4, 8, 32) for lane in _LANES]


def _run_permute(target, api, mode, width, lane, threads=64):
    program_lane, python_lane = _LANES[lane]
    kernel = tiledsl.compile(permute_program(api, mode, width, threads, program_lane), target=target)
    x = torch.randn(3, threads, dtype=torch.float64, device=_device(target))
    y = poisoned_like(x)
    kernel(x, y)
    want = shuffled(x.cpu(), mode, [python_lane(t) for t in range(threads)], width)
    assert torch.equal(y.cpu(), want)


@pytest.mark.parametrize("api,mode,width,lane", _CASES)
def test_lane_rules_match_cuda(api, mode, width, lane):
    """Every shuffle, segment width and offset (offsets beyond the segment included) on two warps."""
    _run_permute("llvm", api, mode, width, lane)


@pytest.mark.parametrize("threads", [4, 16])
def test_block_smaller_than_a_warp(threads):
    """A block of fewer than 32 threads with segments that fit it (TileLang's hadamard uses 4 threads)."""
    _run_permute("llvm", "tvm", "idx", threads, "per_thread", threads=threads)
    _run_permute("llvm", "tilelang", "xor", 32, "const1", threads=threads)


# -- warp-level algorithms --------------------------------------------------------------------------------------------

def butterfly_sum(threads, rows=4):
    """Every lane ends with its warp's sum (shfl_xor butterfly)."""
    @T.prim_func
    def kernel(X: T.Tensor((rows, threads), "float32"), Y: T.Tensor((rows, threads), "float32")):
        with T.Kernel(rows, threads=threads) as b:
            tx = T.get_thread_binding()
            v = T.alloc_var("float32")
            v = X[b, tx]
            for i in T.serial(5):
                v = v + T.shfl_xor(v, 16 >> i)
            Y[b, tx] = v

    return kernel


def inclusive_scan(threads, rows=4):
    """Y = the running sum of X within each warp (Hillis-Steele with shfl_up)."""
    @T.prim_func
    def kernel(X: T.Tensor((rows, threads), "float32"), Y: T.Tensor((rows, threads), "float32")):
        with T.Kernel(rows, threads=threads) as b:
            tx = T.get_thread_binding()
            lane = tx % 32
            v = T.alloc_local((1,), "float32")
            v[0] = X[b, tx]
            for i in T.serial(5):
                n = T.shfl_up(v[0], 1 << i)
                v[0] = v[0] + T.if_then_else(lane >= (1 << i), n, T.float32(0))
            Y[b, tx] = v[0]

    return kernel


def down_reduction(threads, rows=4):
    """S[b, w] = the sum of warp w's values, from lane 0 after a shfl_down tree (the other lanes hold partials)."""
    warps = threads // 32

    @T.prim_func
    def kernel(X: T.Tensor((rows, threads), "float32"), S: T.Tensor((rows, warps), "float32")):
        with T.Kernel(rows, threads=threads) as b:
            tx = T.get_thread_binding()
            v = T.alloc_local((1,), "float32")
            v[0] = X[b, tx]
            for i in T.serial(5):
                v[0] = v[0] + T.shfl_down(v[0], 16 >> i)
            if tx % 32 == 0:
                S[b, tx // 32] = v[0]

    return kernel


def _warp_view(x):
    return x.double().view(x.shape[0], -1, 32)


def _check_butterfly(target):
    x = torch.randn(4, 128, device=_device(target))
    y = poisoned_like(x)
    tiledsl.compile(butterfly_sum(128), target=target)(x, y)
    want = _warp_view(x.cpu()).sum(-1, keepdim=True).expand(-1, -1, 32).reshape(4, 128)
    torch.testing.assert_close(y.cpu().double(), want, rtol=1e-5, atol=1e-5)


def _check_scan(target):
    x = torch.randn(4, 96, device=_device(target))
    y = poisoned_like(x)
    tiledsl.compile(inclusive_scan(96), target=target)(x, y)
    torch.testing.assert_close(y.cpu().double(), _warp_view(x.cpu()).cumsum(-1).reshape(4, 96), rtol=1e-5, atol=1e-5)


def _check_down(target):
    x = torch.randn(4, 128, device=_device(target))
    s = poisoned_like(torch.empty(4, 4, device=_device(target)))
    tiledsl.compile(down_reduction(128), target=target)(x, s)
    torch.testing.assert_close(s.cpu().double(), _warp_view(x.cpu()).sum(-1), rtol=1e-5, atol=1e-5)


def test_butterfly_sum_with_shfl_xor():
    _check_butterfly("llvm")


def test_prefix_sum_with_shfl_up():
    _check_scan("llvm")


def test_reduction_with_shfl_down():
    _check_down("llvm")


def segmented_broadcast(rows=3):
    """tvm_warp_shuffle with width 8 in a block of 3 warps: every lane gets lane (t * 5 + 2) mod 8 of its group."""
    @T.prim_func
    def kernel(X: T.Tensor((rows, 96), "float64"), Y: T.Tensor((rows, 96), "float64")):
        with T.Kernel(rows, threads=96) as b:
            tx = T.get_thread_binding()
            src = T.alloc_local((1,), "int32")
            src[0] = tx * 5 + 2
            Y[b, tx] = T.tvm_warp_shuffle(FULL, X[b, tx] * 2.0, src[0], 8, 32) + X[b, tx]

    return kernel


def _check_segmented(target):
    x = torch.randn(3, 96, dtype=torch.float64, device=_device(target))
    y = poisoned_like(x)
    tiledsl.compile(segmented_broadcast(), target=target)(x, y)
    want = shuffled(x.cpu() * 2.0, "idx", [(t * 5 + 2) for t in range(96)], 8) + x.cpu()
    assert torch.equal(y.cpu(), want)


def test_tvm_warp_shuffle_with_width_8_on_three_warps():
    _check_segmented("llvm")


def two_dim_threads(rows=2):
    """threads=(16, 4): a warp holds two rows of threadIdx.y; xor 16 swaps them, xor 1 swaps neighbours."""
    @T.prim_func
    def kernel(X: T.Tensor((rows, 4, 16), "float64"), Y: T.Tensor((rows, 4, 16), "float64")):
        with T.Kernel(rows, threads=(16, 4)) as b:
            tx = T.get_thread_binding(0)
            ty = T.get_thread_binding(1)
            Y[b, ty, tx] = T.shfl_xor(X[b, ty, tx], 16) + T.shfl_xor(X[b, ty, tx], 1) * 3.0

    return kernel


def test_linear_lane_over_two_thread_dims():
    x = torch.randn(2, 4, 16, dtype=torch.float64)
    y = poisoned_like(x)
    tiledsl.compile(two_dim_threads(), target="llvm")(x, y)
    flat = x.reshape(2, 64)
    want = shuffled(flat, "xor", [16] * 64, 32) + shuffled(flat, "xor", [1] * 64, 32) * 3.0
    assert torch.equal(y.reshape(2, 64), want)


def nested_shuffles(rows=2):
    """A shuffle of a value that is itself a shuffle, in one statement."""
    @T.prim_func
    def kernel(X: T.Tensor((rows, 64), "float64"), Y: T.Tensor((rows, 64), "float64")):
        with T.Kernel(rows, threads=64) as b:
            tx = T.get_thread_binding()
            v = T.alloc_local((1,), "float64")
            v[0] = X[b, tx]
            v[0] = T.shfl_xor(T.shfl_down(v[0], 1) + v[0], 2, 16)
            Y[b, tx] = v[0]

    return kernel


def test_nested_shuffles():
    x = torch.randn(2, 64, dtype=torch.float64)
    y = poisoned_like(x)
    tiledsl.compile(nested_shuffles(), target="llvm")(x, y)
    inner = shuffled(x, "down", [1] * 64, 32) + x
    assert torch.equal(y, shuffled(inner, "xor", [2] * 64, 16))


def _sylvester(n):
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h


def walsh_hadamard(n, threads, rows=2):
    """Y = X H (Sylvester's H, n = threads * E): E values per thread, the first log2(E) stages inside each thread,
    the rest across lanes, element by element in a vectorized loop, with tvm_warp_shuffle (width = threads)."""
    E = n // threads
    inner_stages, lane_stages = E.bit_length() - 1, threads.bit_length() - 1

    @T.prim_func
    def kernel(X: T.Tensor((rows, n), "float64"), Y: T.Tensor((rows, n), "float64")):
        with T.Kernel(rows, threads=threads) as b:
            tx = T.get_thread_binding()
            a = T.alloc_local((E,), "float64")
            other = T.alloc_local((E,), "float64")
            for e in T.vectorized(E):
                a[e] = X[b, tx * E + e]
            for s in T.serial(inner_stages):
                for p in T.serial(E // 2):
                    lo = (p >> s << (s + 1)) + (p & ((1 << s) - 1))
                    hi = lo + (1 << s)
                    t = a[lo]
                    a[lo] = t + a[hi]
                    a[hi] = t - a[hi]
            for s in T.serial(lane_stages):
                upper = (tx >> s) & 1
                for e in T.vectorized(E):
                    other[e] = T.tvm_warp_shuffle(FULL, a[e], tx ^ (1 << s), threads, threads)
                    a[e] = T.if_then_else(upper == 0, a[e] + other[e], other[e] - a[e])
            for e in T.vectorized(E):
                Y[b, tx * E + e] = a[e]

    return kernel


@pytest.mark.parametrize("n,threads", [(64, 4), (256, 32), (128, 16)])
def test_walsh_hadamard_across_lanes(n, threads):
    x = torch.randn(2, n, dtype=torch.float64)
    y = poisoned_like(x)
    tiledsl.compile(walsh_hadamard(n, threads), target="llvm")(x, y)
    torch.testing.assert_close(y, x @ _sylvester(n), rtol=1e-12, atol=1e-12)


# -- what the CPU emulation refuses -----------------------------------------------------------------------------------

def _refused(body_fn, threads=64, match=None):
    @T.prim_func
    def kernel(X: T.Tensor((threads,), "float32"), Y: T.Tensor((threads,), "float32")):
        with T.Kernel(1, threads=threads):
            tx = T.get_thread_binding()
            body_fn(X, Y, tx)

    with pytest.raises(TileProgramError, match=match):
        tiledsl.compile(kernel, target="llvm")


def test_shuffle_under_a_per_thread_branch_is_refused():
    @T.macro
    def body(X, Y, tx):
        if tx < 16:
            Y[tx] = T.shfl_xor(X[tx], 1)

    _refused(body, match=r"T.shfl_xor .* is under the branch .*tx < 16")


def test_shuffle_in_a_loop_of_per_thread_length_is_refused():
    @T.macro
    def body(X, Y, tx):
        for i in T.serial(tx % 4):
            Y[tx] = T.shfl_down(X[tx], i)

    _refused(body, match="is under the loop")


def test_shuffle_in_an_if_then_else_arm_is_refused():
    @T.macro
    def body(X, Y, tx):
        Y[tx] = T.if_then_else(tx < 8, T.shfl_up(X[tx], 1), X[tx])

    _refused(body, match="arm of T.if_then_else")


def test_shuffle_inside_t_parallel_is_refused():
    @T.macro
    def body(X, Y, tx):
        for i in T.Parallel(64):
            Y[i] = T.shfl_xor(X[i], 1)

    _refused(body, match="inside T.Parallel")


def test_partial_mask_is_refused():
    @T.macro
    def body(X, Y, tx):
        Y[tx] = T.shfl_xor(X[tx], 1, mask=0xFFFF)

    _refused(body, match="leaves out lanes")


def test_missing_lanes_of_a_partial_warp_are_refused():
    @T.macro
    def body(X, Y, tx):
        Y[tx] = T.shfl_down(X[tx], 1)

    _refused(body, threads=48, match="lane that does not exist")


def test_bad_width_is_refused():
    with pytest.raises(TileProgramError, match="power of 2"):
        T.shfl_xor(T.float32(1.0), 1, 12)

    @T.macro
    def body(X, Y, tx):
        Y[tx] = T.tvm_warp_shuffle(FULL, X[tx], 0, 12, 32)

    _refused(body, match="power of 2")


# -- CUDA: nvcc builds for sm_90a, and runs where there is a GPU -------------------------------------------------------

_CUDA_NAMES = {"idx": "__shfl_sync(", "up": "__shfl_up_sync(", "down": "__shfl_down_sync(", "xor": "__shfl_xor_sync("}


@pytest.mark.nvcc
@pytest.mark.parametrize("api,mode", [("tilelang", m) for m in ("idx", "up", "down", "xor")] +
                         [("tvm", m) for m in ("idx", "up", "down")])
def test_cuda_lowers_to_shfl_sync_intrinsics(api, mode):
    kernel = tiledsl.compile(permute_program(api, mode, 8, 64, _LANES["const3"][0]), target=CUDA)
    assert _CUDA_NAMES[mode] in kernel.get_kernel_source()


@pytest.mark.nvcc
def test_cuda_builds_the_warp_programs():
    sources = [tiledsl.compile(f, target=CUDA).get_kernel_source()
               for f in (butterfly_sum(128), inclusive_scan(96), down_reduction(128), segmented_broadcast(),
                         two_dim_threads(), nested_shuffles(), walsh_hadamard(256, 32))]
    assert "__shfl_xor_sync(" in sources[0] and "__shfl_up_sync(" in sources[1]
    assert "__shfl_down_sync(" in sources[2] and "__shfl_sync(" in sources[3]


def wide_vector_exchange(E=32, threads=64, rows=2):
    """Per-thread rows of E float32 values written to shared memory and read back transposed by warps, with
    T.vectorized(E) loops wider than any CUDA vector type (the CUDA build splits them on its retry)."""
    @T.prim_func
    def kernel(X: T.Tensor((rows, threads * E), "float32"), Y: T.Tensor((rows, threads * E), "float32")):
        with T.Kernel(rows, threads=threads) as b:
            tx = T.get_thread_binding()
            a = T.alloc_local((E,), "float32")
            s = T.alloc_shared((threads, E), "float32")
            for e in T.vectorized(E):
                a[e] = X[b, tx * E + e]
            for e in T.vectorized(E):
                s[tx, e] = a[e] * 2.0
            for e in T.vectorized(E):
                a[e] = s[threads - 1 - tx, e]
            for e in T.vectorized(E):
                Y[b, tx * E + e] = a[e] + T.shfl_xor(a[e], 1)

    return kernel


def _check_wide_vectors(target):
    x = torch.randn(2, 64 * 32, device=_device(target))
    y = poisoned_like(x)
    tiledsl.compile(wide_vector_exchange(), target=target)(x, y)
    moved = x.cpu().double().view(2, 64, 32).flip(1) * 2.0
    want = moved + moved.view(2, 32, 2, 32).flip(2).view(2, 64, 32)
    torch.testing.assert_close(y.cpu().double(), want.reshape(2, -1), rtol=1e-6, atol=1e-6)


def test_wide_vectorized_loops_around_a_shuffle():
    _check_wide_vectors("llvm")


@pytest.mark.nvcc
def test_cuda_splits_vectorized_loops_wider_than_its_vector_types():
    """float32 x 32 is no CUDA type: the build retries with the loops split into float4 vectors."""
    source = tiledsl.compile(wide_vector_exchange(), target=CUDA).get_kernel_source()
    assert "float4" in source and "float32x32" not in source and "__shfl_xor_sync(" in source


@pytest.mark.nvcc
def test_cuda_keeps_vector_loops_that_build_as_they_were():
    """A vectorized loop CUDA prints (float32 x 8, contiguous) is not split: only failing builds retry."""
    @T.prim_func
    def kernel(X: T.Tensor((64 * 8,), "float32"), Y: T.Tensor((64 * 8,), "float32")):
        with T.Kernel(1, threads=64):
            tx = T.get_thread_binding()
            for e in T.vectorized(8):
                Y[tx * 8 + e] = X[tx * 8 + e]

    source = tiledsl.compile(kernel, target=CUDA).get_kernel_source()
    assert "ulonglong4" in source and "_o" not in source.split("__global__", 1)[1]


@pytest.mark.gpu
@pytest.mark.parametrize("api,mode,width,lane", [c for c in _CASES if c[3] in ("const3", "per_thread")])
def test_lane_rules_on_gpu(api, mode, width, lane):
    _run_permute(CUDA, api, mode, width, lane)


@pytest.mark.gpu
def test_warp_algorithms_on_gpu():
    _check_butterfly(CUDA)
    _check_scan(CUDA)
    _check_down(CUDA)
    _check_segmented(CUDA)
    _check_wide_vectors(CUDA)
