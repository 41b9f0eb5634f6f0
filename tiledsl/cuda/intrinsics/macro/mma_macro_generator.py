"""``TensorCoreIntrinEmitter``: hand-written warp-level GEMMs (``ldmatrix`` / ``mma.sync`` / accumulator stores),
with TileLang's names and arguments.

A program keeps per-thread fragments in ``T.alloc_local`` buffers (``warp_rows * local_size_a`` elements of A,
``warp_cols * local_size_b`` of B, ``warp_rows * warp_cols * local_size_out`` accumulators) and calls, inside
``T.Kernel``::

    emitter.ldmatrix_a(A_local, A_shared, ki)   # this warp's 16-row A tiles of k-step ki, from shared memory
    emitter.ldmatrix_b(B_local, B_shared, ki)
    emitter.mma(A_local, B_local, C_local)      # C_local += A @ B, per 16 x 16 (or 16 x 8) tile
    emitter.stmatrix(C_local, C_shared)         # the accumulators to a shared (or, with pid_m/pid_n, global) tile

Fragments are those of PTX's ``mma.m16n8k16`` (fp16/bf16 inputs; fp32, or fp16 for fp16 inputs, accumulators)
and ``mma.m16n8k32`` (int8/uint8 inputs, int32 accumulators): see ``layout/mma_layout.py``.

**CUDA**: ``ldmatrix.x4``/``.x2`` (``.trans`` where the stored tile is the other way round) fills the fragments;
8-bit tiles stored K-major, which ``ldmatrix`` cannot transpose, and tiles whose rows are not a multiple of 16
bytes are loaded element by element into the same fragment layout. Each 16 x 8 tile is one ``mma.sync``.
Accumulators are stored element by element.

**CPU (LLVM) emulation**, exact for the values: threads are emulated by running each per-thread statement for
every thread in turn (``passes/kernel_to_loops_cpu.py``), so a thread cannot read another thread's registers as
``mma.sync`` does. ``ldmatrix`` needs no exchange: each lane's fragment is a known function of the shared tile, so
it becomes per-thread element loads of exactly the values the instruction delivers. ``mma`` is a warp collective:
it becomes two statements, each run for every thread of the block: first every thread writes its A and B fragment
elements to their places in a per-warp exchange tile (as the tensor core gathers them), then every thread computes
its own accumulator elements from the whole tiles (products in float32, or int32 for 8-bit inputs, summed over the
instruction's K and added to the accumulator). This holds under the condition ``mma.sync`` itself states: every
thread of the block reaches the call together. An ``mma`` under a branch or loop that depends on the thread index
(or on a per-thread value) is refused on the CPU with a TileProgramError; fragments may be computed by any
per-thread code between the loads and the ``mma`` (dequantization, say), as on the GPU.

Both forms are emitted into the one target-independent program (``tiledsl.ir.target_only``); lowering keeps the
form of the target being built.
"""
from __future__ import annotations

from tvm import DataType, tirx
from tvm.ir import TensorLoad, TensorRegion
from tvm.script import tirx as _script
from tvm.script.ir_builder import tirx as _builder

from ....errors import TileProgramError, refusing
from ....ir.target_only import ldmatrix_reads, only_on
from ....language import kernel as _kernel
from ....language.dtypes import canonical_name
from ..layout.ldmatrix import ldmatrix_available, ldmatrix_row, ldmatrix_trans
from ..layout.mma_layout import a_fragment, accumulator_fragment, b_fragment
from ..layout.utils import mma_store_index_map

_PTX_TYPE = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "int8": "s8", "uint8": "u8", "int32": "s32"}
#: Input dtype -> accumulator dtypes mma.sync takes for it.
_ACCUMULATORS = {"float16": ("float32", "float16"), "bfloat16": ("float32",), "int8": ("int32",),
                 "uint8": ("int32",)}


def _i32(x):
    return tirx.const(x, "int32") if isinstance(x, int) else x


def _origin(obj, what: str):
    """(buffer, the indices of the tile's first element) of a buffer, a region or an element of a buffer."""
    if isinstance(obj, tirx.Buffer):
        return obj, [_i32(0)] * len(obj.shape)
    if isinstance(obj, TensorRegion):
        return obj.source, [r.min for r in obj.region]
    if isinstance(obj, TensorLoad):
        return obj.source, list(obj.indices)
    raise TileProgramError(f"TensorCoreIntrinEmitter.{what}: expected a buffer, a region or an element of one, "
                           f"got {type(obj).__name__}")


def _local(buf, what: str, dtype: str, size: int):
    if not isinstance(buf, tirx.Buffer) or buf.scope() != "local":
        raise TileProgramError(f"TensorCoreIntrinEmitter.{what}: {getattr(buf, 'name', buf)} must be a per-thread "
                               f"buffer from T.alloc_local")
    if str(buf.dtype) != dtype:
        raise TileProgramError(f"TensorCoreIntrinEmitter.{what}: {buf.name} is {buf.dtype}, the emitter was made "
                               f"for {dtype}")
    if len(buf.shape) != 1 or not isinstance(buf.shape[0], tirx.IntImm) or int(buf.shape[0]) < size:
        raise TileProgramError(f"TensorCoreIntrinEmitter.{what}: {buf.name} must be a 1-d T.alloc_local of at least "
                               f"{size} elements, got shape {list(buf.shape)}")
    return buf


def _rows_aligned(buf) -> bool:
    """Whether every row of a shared tile starts on a 16-byte boundary, as ldmatrix's row addresses must."""
    last = buf.shape[-1]
    return isinstance(last, tirx.IntImm) and int(last) * DataType(str(buf.dtype)).bits % 128 == 0


def _words(buf):
    """The 32-bit registers of a per-thread buffer (the same storage seen as uint32)."""
    n = int(buf.shape[0]) * DataType(str(buf.dtype)).bits // 32
    return tirx.decl_buffer((n,), "uint32", buf.name + "_u32", data=buf.data, scope="local")


def _loop(extent: int, body_fn, name: str, kind=tirx.ForKind.SERIAL):
    var = tirx.Var(name, "int32")
    return tirx.For(var, _i32(0), _i32(extent), kind, body_fn(var))


def _seq(stmts):
    return stmts[0] if len(stmts) == 1 else tirx.SeqStmt(stmts)


class TensorCoreIntrinEmitter:
    """Emits ``ldmatrix`` / ``mma.sync`` code for a block of ``block_row_warps x block_col_warps`` warps, each
    computing a ``warp_row_tiles x warp_col_tiles`` tile of C, ``chunk`` deep in K per shared tile (TileLang's
    arguments; ``reduce_k``, ``num_elems_per_byte`` are accepted, ``thread_var`` replaces the kernel's thread
    index). See the module docstring for the CPU emulation."""

    M_DIM = 16
    WARP_SIZE = 32
    n_dim = 16
    is_m_first = False

    def __init__(self, a_dtype="float16", b_dtype="float16", accum_dtype="float16", a_transposed=False,
                 b_transposed=False, block_row_warps=2, block_col_warps=2, warp_row_tiles=8, warp_col_tiles=8,
                 chunk=16, reduce_k=1, num_elems_per_byte=1, is_m_first=False, thread_var=None):
        self.a_dtype, self.b_dtype = canonical_name(a_dtype), canonical_name(b_dtype)
        self.accum_dtype = canonical_name(accum_dtype)
        self._check_dtypes()
        self.a_transposed, self.b_transposed = bool(a_transposed), bool(b_transposed)
        self.block_row_warps, self.block_col_warps = int(block_row_warps), int(block_col_warps)
        self.warp_row_tiles, self.warp_col_tiles = int(warp_row_tiles), int(warp_col_tiles)
        self.chunk, self.reduce_k = int(chunk), int(reduce_k)
        self.num_elems_per_byte = num_elems_per_byte
        self.bits = DataType(self.a_dtype).bits
        self.k_dim = 256 // self.bits  # 16 for 16-bit inputs, 32 for 8-bit ones
        if self.chunk % self.k_dim:
            raise TileProgramError(f"TensorCoreIntrinEmitter: chunk={chunk} must be a multiple of the mma "
                                   f"instruction's K ({self.k_dim} for {self.a_dtype})")
        if self.warp_row_tiles % 16 or self.warp_row_tiles <= 0:
            raise TileProgramError(f"TensorCoreIntrinEmitter: warp_row_tiles={warp_row_tiles} must be a positive "
                                   f"multiple of 16")
        if self.warp_col_tiles % 8 or self.warp_col_tiles <= 0:
            raise TileProgramError(f"TensorCoreIntrinEmitter: warp_col_tiles={warp_col_tiles} must be a positive "
                                   f"multiple of 8")
        self.n_dim = 16 if self.warp_col_tiles % 16 == 0 else 8
        self.micro_size_x, self.micro_size_y, self.micro_size_k = self.M_DIM, self.n_dim, self.k_dim
        self.warp_rows = self.warp_row_tiles // self.M_DIM
        self.warp_cols = self.warp_col_tiles // self.n_dim
        self.local_size_a = self.M_DIM * self.k_dim // self.WARP_SIZE
        self.local_size_b = self.n_dim * self.k_dim // self.WARP_SIZE
        self.local_size_out = self.M_DIM * self.n_dim // self.WARP_SIZE
        self.mma_prefix = f"m16n8k{self.k_dim}"
        self.threads = self.WARP_SIZE * self.block_row_warps * self.block_col_warps * self.reduce_k
        if is_m_first is not None:
            self.is_m_first = bool(is_m_first)
        self.thread_var = thread_var

    def _check_dtypes(self):
        if self.a_dtype != self.b_dtype:
            raise TileProgramError(f"TensorCoreIntrinEmitter: A is {self.a_dtype} and B {self.b_dtype}; tiledsl's "
                                   f"emitter takes equal input dtypes")
        allowed = _ACCUMULATORS.get(self.a_dtype)
        if allowed is None:
            raise TileProgramError(f"TensorCoreIntrinEmitter: inputs of {self.a_dtype} are not supported (float16, "
                                   f"bfloat16, int8 and uint8 are)")
        if self.accum_dtype not in allowed:
            raise TileProgramError(f"TensorCoreIntrinEmitter: {self.a_dtype} inputs accumulate in "
                                   f"{' or '.join(allowed)}, not {self.accum_dtype}")

    # ---- threads -------------------------------------------------------------------------------------------

    def get_thread_binding(self):
        """The thread index the emitted code uses (``thread_var``, else the enclosing T.Kernel's threadIdx.x)."""
        if self.thread_var is not None:
            return self.thread_var
        kernel = _kernel._current("TensorCoreIntrinEmitter")
        if len(kernel.thread_extents) != 1:
            raise TileProgramError(f"TensorCoreIntrinEmitter: the kernel has threads={kernel.thread_extents}; the "
                                   f"emitter numbers warps along one thread dimension (threads=<int>) or takes "
                                   f"thread_var=")
        return _kernel.get_thread_binding(0)

    def extract_thread_binding(self, thread_id, is_m_first=None):
        """(lane, warp_n, warp_m) of a thread index: warps are numbered along M first unless ``is_m_first``."""
        m_first = self.is_m_first if is_m_first is None else is_m_first
        lane, warp = thread_id % self.WARP_SIZE, thread_id // self.WARP_SIZE
        if m_first:
            return lane, warp % self.block_col_warps, (warp // self.block_col_warps) % self.block_row_warps
        return lane, (warp // self.block_row_warps) % self.block_col_warps, warp % self.block_row_warps

    def _block_warps(self) -> int:
        threads = _kernel._current("TensorCoreIntrinEmitter").thread_extents[0]
        if threads % self.WARP_SIZE:
            raise TileProgramError(f"TensorCoreIntrinEmitter: the kernel has {threads} threads; warp-level mma "
                                   f"needs a multiple of 32")
        return threads // self.WARP_SIZE

    # ---- loads ---------------------------------------------------------------------------------------------

    def ldmatrix_a(self, A_local_buf, A_shared_buf, ki, rk=0):
        """Load this warp's ``warp_rows`` A tiles of k-step ``ki`` (of split ``rk``) from the shared tile."""
        local = _local(A_local_buf, "ldmatrix_a", self.a_dtype, self.warp_rows * self.local_size_a)
        lane, _, warp_m = self.extract_thread_binding(self.get_thread_binding())
        wk = rk * self.chunk + ki * self.k_dim
        tiles = [(i * self.local_size_a, warp_m * self.warp_row_tiles + i * self.M_DIM) for i in range(self.warp_rows)]
        self._load("A", local, A_shared_buf, lane, wk, tiles, self.local_size_a, self.a_transposed)

    def ldmatrix_b(self, B_local_buf, B_shared_buf, ki, rk=0):
        """Load this warp's ``warp_cols`` B tiles of k-step ``ki`` (of split ``rk``) from the shared tile."""
        local = _local(B_local_buf, "ldmatrix_b", self.b_dtype, self.warp_cols * self.local_size_b)
        lane, warp_n, _ = self.extract_thread_binding(self.get_thread_binding())
        wk = rk * self.chunk + ki * self.k_dim
        tiles = [(j * self.local_size_b, warp_n * self.warp_col_tiles + j * self.n_dim) for j in range(self.warp_cols)]
        self._load("B", local, B_shared_buf, lane, wk, tiles, self.local_size_b, self.b_transposed)

    def _load(self, matrix, local, shared, lane, wk, tiles, size, transposed):
        buf, origin = _origin(shared, f"ldmatrix_{matrix.lower()}")
        if not str(buf.scope()).startswith("shared"):
            raise TileProgramError(f"TensorCoreIntrinEmitter.ldmatrix_{matrix.lower()}: {buf.name} must be a shared "
                                   f"tile (T.alloc_shared)")
        if len(origin) < 2:
            raise TileProgramError(f"TensorCoreIntrinEmitter.ldmatrix_{matrix.lower()}: {buf.name} must be 2-d")
        # the stored tile's (row, col) of operand coordinates (mn, k): K-major operands are stored (k, mn)
        k_rows = (matrix == "A") == transposed

        def element(mn, k):
            row, col = (k, mn) if k_rows else (mn, k)
            return [*origin[:-2], origin[-2] + row, origin[-1] + col]

        def frag(j):
            return a_fragment(lane, j, self.bits) if matrix == "A" else b_fragment(lane, j, self.bits, self.n_dim)

        by_element = _seq([_loop(size, lambda j, o=off, t=t0: tirx.BufferStore(
            local, tirx.BufferLoad(buf, element(t + frag(j)[0], wk + frag(j)[1])), [o + j]), "j")
            for off, t0 in tiles])
        if not ldmatrix_available(matrix, self.bits, transposed) or not _rows_aligned(buf):
            _builder.add_to_parent(by_element)  # the same element loads on every target
            return
        words, num = _words(local), (4 if matrix == "A" or self.n_dim == 16 else 2)
        trans = ".trans" if ldmatrix_trans(matrix, transposed) else ""
        ld = _script.ptx[f"ldmatrix.sync.aligned.m8n8.x{num}{trans}.shared.b16"]
        row, col = ldmatrix_row(matrix, lane % 16 if num == 2 else lane, self.bits, transposed)
        calls = []
        for off, t0 in tiles:
            r0, c0 = (wk + row, t0 + col) if k_rows else (t0 + row, wk + col)
            idx = [*origin[:-2], origin[-2] + r0, origin[-1] + c0]
            ptr = tirx.address_of(tirx.BufferLoad(buf, idx))
            regs = [tirx.BufferLoad(words, [_i32(off * self.bits // 32 + q)]) for q in range(num)]
            calls.append(tirx.Evaluate(ld(*regs, ptr)))
        cuda = tirx.SeqStmt([tirx.DeclBuffer(words, data=local.data), ldmatrix_reads(_seq(calls))])
        _builder.add_to_parent(only_on("cuda", cuda))
        _builder.add_to_parent(only_on("llvm", by_element))

    # ---- mma -----------------------------------------------------------------------------------------------

    def mma(self, A_local_buf, B_local_buf, C_local_buf, k_inner=0):
        """``C_local += A_local @ B_local`` for each of this warp's ``warp_rows x warp_cols`` tiles."""
        a = _local(A_local_buf, "mma", self.a_dtype, self.warp_rows * self.local_size_a)
        b = _local(B_local_buf, "mma", self.b_dtype, self.warp_cols * self.local_size_b)
        c = _local(C_local_buf, "mma", self.accum_dtype, self.warp_rows * self.warp_cols * self.local_size_out)
        _builder.add_to_parent(only_on("cuda", self._mma_cuda(a, b, c)))
        _builder.add_to_parent(only_on("llvm", self._mma_cpu(a, b, c), collective=True))

    def _mma_cuda(self, a, b, c):
        inp, acc = _PTX_TYPE[self.a_dtype], _PTX_TYPE[self.accum_dtype]
        mma = _script.ptx[f"mma.sync.aligned.{self.mma_prefix}.row.col.{acc}.{inp}.{inp}.{acc}"]
        a_w, b_w = _words(a), _words(b)
        c_regs = c if self.accum_dtype == "float32" else _words(c)  # f16 pairs and s32 go as .b32 / .u32 registers
        per_word = 32 // DataType(self.accum_dtype).bits
        halves = self.n_dim // 8
        calls = [tirx.DeclBuffer(a_w, data=a.data), tirx.DeclBuffer(b_w, data=b.data)]
        if c_regs is not c:
            calls.append(tirx.DeclBuffer(c_regs, data=c.data))
        for i in range(self.warp_rows):
            a_regs = [tirx.BufferLoad(a_w, [_i32(i * 4 + q)]) for q in range(4)]
            for j in range(self.warp_cols):
                for h in range(halves):
                    b_regs = [tirx.BufferLoad(b_w, [_i32((j * halves + h) * 2 + q)]) for q in range(2)]
                    base = ((i * self.warp_cols + j) * self.local_size_out + h * 4) // per_word
                    cs = [tirx.BufferLoad(c_regs, [_i32(base + q)]) for q in range(4 // per_word)]
                    calls.append(tirx.Evaluate(mma(*cs, *a_regs, *b_regs, *cs)))
        return tirx.SeqStmt(calls)

    def _mma_cpu(self, a, b, c):
        warps = self._block_warps()
        lane, warp = self.get_thread_binding() % 32, self.get_thread_binding() // 32
        rows, cols = self.warp_rows * self.M_DIM, self.warp_cols * self.n_dim
        # the exchange tiles hold the inputs widened (exactly) to the products' type: one conversion per element
        wide = "int32" if self.bits == 8 else "float32"
        xa = tirx.decl_buffer((warps, rows, self.k_dim), wide, "mma_exchange_a", scope="shared")
        xb = tirx.decl_buffer((warps, cols, self.k_dim), wide, "mma_exchange_b", scope="shared")

        def put_a(i):
            def store(j):
                m, k = a_fragment(lane, j, self.bits)
                return tirx.BufferStore(xa, tirx.Cast(wide, tirx.BufferLoad(a, [i * self.local_size_a + j])),
                                        [warp, i * self.M_DIM + m, k])
            return _loop(self.local_size_a, store, "j")

        def put_b(i):
            def store(j):
                n, k = b_fragment(lane, j, self.bits, self.n_dim)
                return tirx.BufferStore(xb, tirx.Cast(wide, tirx.BufferLoad(b, [i * self.local_size_b + j])),
                                        [warp, i * self.n_dim + n, k])
            return _loop(self.local_size_b, store, "j")

        def accumulate(i, j, e):
            row, col = accumulator_fragment(lane, e)
            total = None
            for k in range(self.k_dim):
                term = (tirx.BufferLoad(xa, [warp, i * self.M_DIM + row, _i32(k)])
                        * tirx.BufferLoad(xb, [warp, j * self.n_dim + col, _i32(k)]))
                total = term if total is None else total + term
            idx = (i * self.warp_cols + j) * self.local_size_out + e
            old = tirx.BufferLoad(c, [idx])
            new = tirx.Cast(wide, old) + total if self.accum_dtype != wide else old + total
            return tirx.BufferStore(c, new if self.accum_dtype == wide else tirx.Cast(self.accum_dtype, new), [idx])

        gather = _seq([_loop(self.warp_rows, put_a, "i"), _loop(self.warp_cols, put_b, "i")])
        compute = _loop(self.warp_rows, lambda i: _loop(self.warp_cols, lambda j: _loop(
            self.local_size_out, lambda e: accumulate(i, j, e), "e"), "j"), "i")
        return tirx.SeqStmt([tirx.AllocBuffer(xa), tirx.AllocBuffer(xb), gather, compute])

    # ---- stores --------------------------------------------------------------------------------------------

    def stmatrix(self, C_local_buf, C_buf, pid_m=None, pid_n=None):
        """Store this warp's accumulators to ``C_buf``: a shared tile of the block's C (2-d, or 4-d as
        ``[block_M // 16, block_N // n, 16, n]``), or with ``pid_m``/``pid_n`` the global C at that block."""
        c = _local(C_local_buf, "stmatrix", self.accum_dtype, self.warp_rows * self.warp_cols * self.local_size_out)
        if not isinstance(C_buf, tirx.Buffer) or len(C_buf.shape) not in (2, 4):
            raise TileProgramError("TensorCoreIntrinEmitter.stmatrix: C_buf must be a 2-d or 4-d buffer, got "
                                   f"{getattr(C_buf, 'shape', C_buf)}")
        if (pid_m is None) != (pid_n is None):
            raise TileProgramError("TensorCoreIntrinEmitter.stmatrix: give both pid_m and pid_n (a global store) or "
                                   "neither")
        if pid_m is not None and len(C_buf.shape) != 2:
            raise TileProgramError("TensorCoreIntrinEmitter.stmatrix: a global store (pid_m, pid_n) needs a 2-d C")
        lane, warp_n, warp_m = self.extract_thread_binding(self.get_thread_binding())
        block_rows = self.block_row_warps * self.warp_rows
        block_cols = self.block_col_warps * self.warp_cols

        def store(i, j, e):
            row, col = accumulator_fragment(lane, e)
            tile_m, tile_n = warp_m * self.warp_rows + i, warp_n * self.warp_cols + j
            if pid_m is not None:
                tile_m, tile_n = pid_m * block_rows + tile_m, pid_n * block_cols + tile_n
            if len(C_buf.shape) == 4:
                idx = [tile_m, tile_n, row, col]
            else:
                idx = [tile_m * self.M_DIM + row, tile_n * self.n_dim + col]
            value = tirx.BufferLoad(c, [(i * self.warp_cols + j) * self.local_size_out + e])
            if str(C_buf.dtype) != self.accum_dtype:
                value = tirx.Cast(str(C_buf.dtype), value)
            return tirx.BufferStore(C_buf, value, idx)

        _builder.add_to_parent(_loop(self.warp_rows, lambda i: _loop(self.warp_cols, lambda j: _loop(
            self.local_size_out, lambda e: store(i, j, e), "e"), "j"), "i"))

    def get_store_index_map(self, inverse: bool = False):
        """TileLang's IndexMap from (lane, accumulator element) to (row, column) of a 16 x 16 tile."""
        index_map = tirx.IndexMap.from_func(mma_store_index_map, index_dtype="int32")
        return index_map.inverse([self.WARP_SIZE, self.local_size_out]) if inverse else index_map


def _not_implemented(name: str, why: str):
    return refusing(name, f"{name} is not implemented by tiledsl ({why}); TensorCoreIntrinEmitter is",
                    f"TileLang's {name}: refused with a TileProgramError ({why}).")


TensorCoreIntrinEmitterWithLadderTransform = _not_implemented(
    "TensorCoreIntrinEmitterWithLadderTransform", "BitBLAS's ladder-transformed weight layouts")
TensorCoreIntrinEmitterSM120 = _not_implemented("TensorCoreIntrinEmitterSM120", "sm_120 block-scaled mma")
