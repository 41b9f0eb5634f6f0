"""The TMA-store epilogue puts every accumulator element where the plain per-thread stores put it, checked without
a GPU: the lowered IR of both forms of a program is interpreted for every consumer thread at once (numpy arrays
over the thread index), each staging-tile store is mapped back through the hardware's 128-byte swizzle and the
store's tensor coordinates, and the two maps from (CTA, tile, thread, register) to (row, column) must be equal and
cover the result once; on a persistent grid every CTA is run, through its tile loop. What this cannot check (and
the GPU tests in test_tma.py do): the barriers and the bulk-group waits.
"""
import numpy as np
import pytest
import tvm
from tvm import tirx
from tvm.ir import Call, StringImm, TensorLoad

import general_programs as bench
from test_wgmma_more_types import typed_gemm
from tiledsl.passes.pipeline import lower

SM90A = tvm.target.Target({"kind": "cuda", "arch": "sm_90a"})
_BINARY = {
    tirx.Add: np.add, tirx.Sub: np.subtract, tirx.Mul: np.multiply, tirx.FloorDiv: np.floor_divide,
    tirx.FloorMod: np.mod, tirx.Min: np.minimum, tirx.Max: np.maximum, tirx.LT: np.less, tirx.LE: np.less_equal,
    tirx.GT: np.greater, tirx.GE: np.greater_equal, tirx.EQ: np.equal, tirx.NE: np.not_equal,
    tirx.And: np.logical_and, tirx.Or: np.logical_or, tirx.BitwiseXor: np.bitwise_xor,
    tirx.BitwiseAnd: np.bitwise_and, tirx.BitwiseOr: np.bitwise_or,
}
_CALLS = {"tirx.bitwise_xor": np.bitwise_xor, "tirx.bitwise_and": np.bitwise_and, "tirx.bitwise_or": np.bitwise_or,
          "tirx.shift_right": np.right_shift, "tirx.shift_left": np.left_shift}


class _Interpreter:
    """Runs the consumers' epilogue of a lowered kernel for threads 0..n-1 (``env`` maps variables to values;
    the thread index is an array), recording global and staging-tile stores of accumulator registers."""

    def __init__(self, thread_var, nthreads, env):
        self.env = dict(env)
        self.env[thread_var] = np.arange(nthreads)
        self.n = nthreads
        self.context = list(env)  # block indices and the persistent tile counter: part of every record's key
        self.global_stores = {}  # (thread, register) -> (row, col)
        self.staged = []  # (staging buffer, thread array, register array, flat element offset array)
        self.tma_stores = []  # (staging buffer name, coordinates innermost first, the staged entries it sends)

    def value(self, e):
        if isinstance(e, tirx.IntImm):
            return np.int64(int(e.value))
        if isinstance(e, tirx.Var):
            return self.env[e]
        if isinstance(e, tirx.Cast):
            return self.value(e.value)
        for cls, fn in _BINARY.items():
            if type(e) is cls:
                return fn(self.value(e.a), self.value(e.b))
        if isinstance(e, tirx.Not):
            return np.logical_not(self.value(e.a))
        if isinstance(e, tirx.Select):
            return np.where(self.value(e.condition), self.value(e.true_value), self.value(e.false_value))
        if isinstance(e, Call) and e.op.name == "tirx.call_extern" and str(e.args[0].value) == "__shfl_sync":
            return self.lane_zero(e)
        if isinstance(e, Call) and e.op.name in _CALLS:
            return _CALLS[e.op.name](*[np.asarray(self.value(a), dtype=np.int64) for a in e.args])
        raise NotImplementedError(f"{type(e).__name__}: {e}")

    def lane_zero(self, call):
        """``__shfl_sync(mask, v, 0, 32)`` (the warp index, ``passes/cuda/warp_index.py``): each thread gets lane 0's
        ``v`` of its warp."""
        _, _, v, lane, width = call.args
        assert int(lane.value) == 0 and int(width.value) == 32, call
        values = np.broadcast_to(self.value(v), (self.n,))
        return values[np.arange(self.n) // 32 * 32]

    def run(self, stmt, active):
        if isinstance(stmt, tirx.SeqStmt):
            for s in stmt.seq:
                self.run(s, active)
        elif isinstance(stmt, tirx.For):
            if stmt.loop_var.name.startswith("k"):
                return  # the consumers' main loop: its wgmmas write the accumulator, nothing is stored
            tile = stmt.loop_var.name == "tile_iter"
            if tile:
                self.context.append(stmt.loop_var)
            for i in range(int(self.value(stmt.min)), int(self.value(stmt.min) + self.value(stmt.extent))):
                self.env[stmt.loop_var] = np.int64(i)
                self.run(stmt.body, active)
            if tile:
                self.context.pop()
        elif isinstance(stmt, tirx.IfThenElse):
            cond = np.broadcast_to(np.asarray(self.value(stmt.condition), dtype=bool), (self.n,))
            self.run(stmt.then_case, active & cond)
            if stmt.else_case is not None:
                self.run(stmt.else_case, active & ~cond)
        elif isinstance(stmt, tirx.Bind):
            self.env[stmt.var] = self.value(stmt.value)
        elif isinstance(stmt, tirx.AttrStmt):
            self.run(stmt.body, active)
        elif isinstance(stmt, tirx.BufferStore):
            self.store(stmt, active)
        elif isinstance(stmt, tirx.Evaluate) and isinstance(stmt.value, Call):
            self.call(stmt.value, active)

    def store(self, stmt, active):
        if not active.any() or stmt.buffer.scope() in ("local", "local.fragment"):
            return  # an epilogue computing on the accumulator (a residual add) changes values, not places
        for load, indices in _lanes(stmt):
            self.store_lane(stmt, load, indices, active)

    def store_lane(self, stmt, value, indices, active):
        reg = np.broadcast_to(self.value(value.indices[0]), (self.n,))
        idx = [np.broadcast_to(self.value(i), (self.n,)) for i in indices]
        threads = np.nonzero(active)[0]
        where = tuple(int(self.env[v]) for v in self.context)
        if stmt.buffer.scope() == "global":
            for t in threads:
                key = (where, int(t), int(reg[t]))
                assert key not in self.global_stores, f"register {key} stored twice"
                self.global_stores[key] = tuple(int(i[t]) for i in idx)
        else:
            shape = [int(s) for s in stmt.buffer.ty.shape]
            flat = np.zeros(self.n, dtype=np.int64)
            for i, s in zip(idx, shape):
                flat = flat * s + i
            self.staged.append((stmt.buffer.name, where, threads, reg[threads], flat[threads]))

    def call(self, call, active):
        strings = [str(a.value) for a in call.args if isinstance(a, StringImm)]
        if "tensor" not in strings or "global" not in strings or strings.index("global") > strings.index("tensor") + 2:
            return
        if strings[strings.index("tensor") + 2] != "global":  # a load: ... tensor, 2d, shared::cluster, global
            return
        assert active.sum() == 1, "one thread issues each TMA store"
        rank = int(strings[strings.index("tensor") + 1][:-1])
        coords = [int(np.broadcast_to(self.value(a), (self.n,))[active][0]) for a in call.args[1:1 + rank]]
        found = []
        _access_ptrs(call, found)
        name = found[0].args[1].args[0].name  # tvm_access_ptr(type, <staging tile>.data, ...)
        sent = [s for s in self.staged if s[0] == name]
        self.staged = [s for s in self.staged if s[0] != name]
        self.tma_stores.append((name, coords, sent))


def _lanes(stmt):
    """[(register load, indices)] of each element an epilogue store writes: one, or two for a packed conversion
    (``passes/cuda/packed_convert.py``: a call on two register loads stored at a two-lane ramp)."""
    value = stmt.value.value if isinstance(stmt.value, tirx.Cast) else stmt.value
    last = stmt.indices[-1]
    if isinstance(last, tirx.Ramp):
        loads = [a for a in value.args if isinstance(a, TensorLoad)]
        assert isinstance(value, Call) and len(loads) == int(last.lanes), f"an epilogue store of {value}"
        return [(load, list(stmt.indices[:-1]) + [last.base + k * last.stride]) for k, load in enumerate(loads)]
    assert isinstance(value, TensorLoad), f"an epilogue store of {value}"
    return [(value, list(stmt.indices))]


def _access_ptrs(node, out):
    import tvm_ffi
    tvm_ffi.structural_walk(node, (Call, lambda c: out.append(c) if c.op.name == "tirx.tvm_access_ptr" else None))


def _launch(mod):
    """(thread launch AttrStmt, [(block var, grid extent)]) of the single kernel of a lowered module."""
    import tvm_ffi
    func = next(iter(mod.functions.values()))
    found = []
    tvm_ffi.structural_walk(func.body, (tirx.AttrStmt, lambda s: found.append(s)
                                        if s.attr_key == "thread_extent" else None))
    blocks = [(s.node.var, int(s.value)) for s in found if s.node.thread_tag.startswith("blockIdx")]
    thread = [s for s in found if s.node.thread_tag == "threadIdx.x"][0]
    return thread, blocks


def _consumer_epilogue(mod, monkeypatch, tma_store: bool):
    monkeypatch.setenv("TILEDSL_TMA_STORE", "1" if tma_store else "0")
    low = lower(tvm.IRModule({"main": mod}), SM90A, allow_hopper_shortcut=False).mod
    launch, blocks = _launch(low)
    split = [s for s in _flatten(launch.body) if isinstance(s, tirx.IfThenElse)][-1]  # if tx >= T: producer
    consumers = split.else_case
    nthreads = int(split.condition.b.value) if isinstance(split.condition.b, tirx.IntImm) else \
        int(split.condition.a.value)
    result = None
    for index in np.ndindex(*[extent for _, extent in blocks]):  # every CTA of the grid
        interp = _Interpreter(launch.node.var, nthreads, {v: np.int64(i) for (v, _), i in zip(blocks, index)})
        for bound in _flatten(launch.body):  # the warp index (passes/cuda/warp_index.py)
            if isinstance(bound, tirx.Bind) and "__shfl_sync" in str(bound.value):
                interp.run(bound, np.ones(nthreads, dtype=bool))
        interp.run(consumers, np.ones(nthreads, dtype=bool))
        if result is None:
            result = interp
        else:
            assert not set(result.global_stores) & set(interp.global_stores)
            result.global_stores.update(interp.global_stores)
            result.staged += interp.staged
            result.tma_stores += interp.tma_stores
    return result


def _flatten(stmt):
    if isinstance(stmt, tirx.SeqStmt):
        return [x for s in stmt.seq for x in _flatten(s)]
    return [stmt]


PROGRAMS = {  # name: (program, M, N[, the program whose TMA-store form is compared, if another])
    "128x256_two_warpgroups": (lambda: bench.gemm(128, 256, 128), 128, 256),
    "128x128_one_warpgroup": (lambda: bench.gemm(128, 128, 128, block_N=128, threads=128), 128, 128),
    "bf16_residual": (lambda: bench.gemm(128, 128, 128, block_N=128, residual=True, dtype="bfloat16"), 128, 128),
    # one 128 x 128 tile over a 100 x 72 result: the plain stores are guarded, the TMA unit clips
    "ragged": (lambda: bench.gemm(100, 72, 128, block_N=128), 100, 72),
    # TileLang's form, the result staged through a shared tile: folded into the direct copy, then stored by TMA
    "staged_through_shared": (lambda: bench.gemm(128, 128, 128, block_N=128), 128, 128,
                              lambda: bench.gemm(128, 128, 128, block_N=128, staged=True)),
    # 4-byte results, 32 columns per 128-byte panel: W8A8's int32, a float32 result of fp16 operands
    "int32_w8a8": (lambda: typed_gemm(128, 128, 128), 128, 128),
    "float32_result": (lambda: typed_gemm(128, 96, 128, "float16", "float16", block_N=96, acc_dtype="float32"),
                       128, 96),
}
ELEMENT_BYTES = {"int32_w8a8": 4, "float32_result": 4}  # the others: 2


@pytest.mark.parametrize("packed", ["0", "1"])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_tma_store_puts_every_element_where_the_plain_stores_do(name, packed, monkeypatch):
    """``packed``: with ``TILEDSL_PACKED_CONVERSIONS=1`` the staging writes convert a pair per instruction."""
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    monkeypatch.setenv("TILEDSL_PERSISTENT", "0")
    monkeypatch.setenv("TILEDSL_PACKED_CONVERSIONS", packed)
    program, M, N, *other = PROGRAMS[name]
    plain = _consumer_epilogue(program(), monkeypatch, tma_store=False)
    tma = _consumer_epilogue((other[0] if other else program)(), monkeypatch, tma_store=True)
    assert plain.global_stores and not plain.tma_stores
    assert tma.tma_stores and not tma.global_stores and not tma.staged  # every staged element was sent
    _assert_same_places(tma, plain, M, N, ELEMENT_BYTES.get(name, 2))


def _assert_same_places(tma, plain, M, N, size=2):
    """Every register the TMA-store form stages lands, through the swizzle and the store's coordinates, on the
    element the plain stores write (those inside M x N: the hardware clips the rest), and on no other's."""
    placed = {}
    for _name, coords, sent in tma.tma_stores:
        col0, row0 = coords[0], coords[1]
        for _buf, where, threads, regs, flat in sent:
            byte = flat * size
            row, chunk = byte // 128, (byte % 128) // 16
            col = ((chunk ^ (row % 8)) * 16 + byte % 16) // size  # the hardware's 128-byte swizzle, undone
            for t, r, rr, cc in zip(threads, regs, row, col):
                key = (where, int(t), int(r))
                assert key not in placed, f"register {key} staged twice"
                placed[key] = (int(row0 + rr), int(col0 + cc))
    assert len(set(placed.values())) == len(placed)  # no two registers land on one element
    assert {key: rc for key, rc in placed.items() if rc[0] < M and rc[1] < N} == plain.global_stores


@pytest.mark.parametrize("ctas", ["3", "1"])
def test_tma_store_places_every_tile_of_a_persistent_grid(ctas, monkeypatch):
    """12 tiles of a 300 x 512 result on 3 CTAs (4 tiles each, the last row of tiles ragged), or one CTA per SM:
    the stores of every tile, in both forms, through the tile counter and the block indices derived from it."""
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    monkeypatch.setenv("TILEDSL_PERSISTENT", ctas)
    M, N = 300, 512
    plain = _consumer_epilogue(bench.gemm(M, N, 128, block_N=128), monkeypatch, tma_store=False)
    tma = _consumer_epilogue(bench.gemm(M, N, 128, block_N=128), monkeypatch, tma_store=True)
    assert len({rc for rc in plain.global_stores.values()}) == M * N  # the plain stores cover the result once
    _assert_same_places(tma, plain, M, N)
