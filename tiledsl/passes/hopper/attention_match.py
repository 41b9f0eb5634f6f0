"""Recognize the flash-attention forward tile program (``examples/flash_attention.py``'s ``main``).

The program must be, up to names, statement order where the data flow allows it, and ``T.clear`` vs ``T.fill``:

    with T.Kernel(ceildiv(S, BM), H, B, threads=2 * BM) as (bx, by, bz):     # any assignment of the three axes
        Q_s, K_s, V_s [, O_s] = T.alloc_shared(...)                            # (BM, D), (BN, D), (BN, D), (BM, D)
        acc_s, acc_s_cast, acc_o = T.alloc_fragment(...)                      # (BM, BN) f32 / f16, (BM, D) f32
        m, m_prev, alpha, rsum, l = T.alloc_fragment([BM], "float32")
        T.copy(Q[bz, bx * BM:(bx + 1) * BM, by, :], Q_s)
        T.fill(acc_o, 0); T.fill(l, 0); T.fill(m, -inf)
        for k in T.Pipelined(ceildiv(S, BN)                                   # causal:
                             or min(ceildiv(S, BN), ceildiv((bx + 1) * BM, BN)), num_stages=any):
            T.copy(K[bz, k * BN:(k + 1) * BN, by, :], K_s)
            acc_s[i, j] = if_then_else(bx * BM + i >= k * BN + j, 0, -inf)    # causal
            acc_s[i, j] = if_then_else(k * BN + j >= S, -inf, 0)              # non-causal (or T.clear(acc_s),
            T.gemm(Q_s, K_s, acc_s, transpose_B=True)                         #  or clear_accum=True)
            T.copy(m, m_prev); T.reduce_max(acc_s, m, dim=1, clear=False)   # or TileLang's form: T.fill(m, -inf)
                                                                      # first (m the step's own max; same result)
            alpha[i] = exp2(m_prev[i] * c - m[i] * c)
            acc_s[i, j] = exp2(acc_s[i, j] * c - m[i] * c)
            T.reduce_sum(acc_s, rsum, dim=1); l[i] = l[i] * alpha[i] + rsum[i]
            T.copy(acc_s, acc_s_cast); acc_o[i, j] *= alpha[i]
            T.copy(V[bz, k * BN:(k + 1) * BN, by, :], V_s)
            T.gemm(acc_s_cast, V_s, acc_o)
        acc_o[i, j] /= l[i]
        T.copy(acc_o, O_s); T.copy(O_s, Output[bz, bx * BM:(bx + 1) * BM, by, :])   # or acc_o -> Output directly

with Q, Output [B, S, H, D] and K, V [B, S, H_kv, D] (grouped-query attention: the K/V copies read head
``by // (H // H_kv)``), all float16 or all bfloat16 of static shape, c a constant, and what the Hopper kernel
handles exactly:
D in (64, 128), BM in (64, 128), BN in (64, 128), S a multiple of BM and BN. A store to a local scalar before the
loop is accepted only as (part of) the loop bound (``loop_range = T.min(...)``); gemm operands must be whole tiles
and the Q tile must have Q's dtype. Anything else is refused
(:func:`match_attention` returns None with the reason in ``last_reason``), so the generic lowering takes it.
"""
from __future__ import annotations

from dataclasses import dataclass

import tvm
import tvm_ffi
from tvm import tirx
from tvm.sym import Analyzer

from ...ir.ops import tile_call_of
from ...language.loops import NUM_STAGES_ATTR
from .match_util import NoMatch as _NoMatch
from .match_util import const_int as _int
from .match_util import launches as _launches
from .match_util import require as _require
from .match_util import statements as _stmts

_SMEM_LIMIT = 232448
VARIANT_ATTR = "tiledsl.hopper_attention_variant"  # optional function attribute: attention_kernel.VARIANTS


@dataclass(frozen=True)
class AttentionPlan:
    """Everything the Hopper flash-attention generator needs."""

    name: str
    batch: int
    heads: int
    seq_len: int
    dim: int
    causal: bool
    scale: float  # the exp2 scale c of the program (1/sqrt(D) * log2(e) in the example)
    block_M: int
    block_N: int
    dtype: str = "float16"
    num_sms: int = 132
    kv_heads: int = 0  # K/V heads (grouped-query attention: heads // kv_heads query heads share one); 0 = heads

    @property
    def groups(self) -> int:
        """Query heads per K/V head (1 without grouped-query attention)."""
        return self.heads // (self.kv_heads or self.heads)

    @property
    def consumers(self) -> int:
        return self.block_M // 64


last_reason = ""


def match_attention(func: tirx.PrimFunc, num_sms: int = 132) -> AttentionPlan | None:
    """The AttentionPlan of ``func`` if it is the flash-attention tile program (module docstring), else None."""
    global last_reason
    try:
        plan = _Matcher(func, num_sms).run()
        last_reason = ""
        return plan
    except _NoMatch as why:
        last_reason = str(why)
        return None


def _is_load(expr, buf, idx) -> bool:
    return (isinstance(expr, tvm.ir.TensorLoad) and expr.source.same_as(buf) and len(expr.indices) == len(idx)
            and all(a.same_as(b) for a, b in zip(expr.indices, idx)))


def _float(expr):
    return float(expr.value) if isinstance(expr, tirx.FloatImm) else None


def _is_call(expr, op_name) -> bool:
    return isinstance(expr, tvm.ir.Call) and isinstance(expr.op, tvm.ir.Op) and expr.op.name == op_name


class _Matcher:
    def __init__(self, func, num_sms):
        self.func, self.num_sms = func, num_sms
        self.az = Analyzer()

    # ---- helpers -------------------------------------------------------------------------------------------
    def par_store(self, stmt, extents):
        """(loop vars, store) if ``stmt`` is a T.Parallel nest over ``extents`` around one BufferStore."""
        loops = []
        for ext in extents:
            if not (isinstance(stmt, tirx.For) and stmt.kind == tirx.ForKind.PARALLEL):
                return None
            if not (isinstance(stmt.min, tirx.IntImm) and int(stmt.min) == 0 and isinstance(stmt.extent, tirx.IntImm)
                    and int(stmt.extent) == ext):
                return None
            loops.append(stmt.loop_var)
            stmt = stmt.body
        if not isinstance(stmt, tirx.BufferStore):
            return None
        return loops, stmt

    def store_to(self, stmt, buf, ndim):
        """(loop vars, value) of a full-tile T.Parallel store to ``buf`` (indices = the loop vars), else None."""
        shape = [int(s) for s in buf.ty.shape]
        if len(shape) != ndim:
            return None
        got = self.par_store(stmt, shape)
        if got is None:
            return None
        loops, store = got
        if not _is_load(tirx.BufferLoad(store.buffer, store.indices), buf, loops):
            return None
        return loops, store.value

    def scaled_diff(self, expr, a_load, b_load):
        """c if ``expr`` is ``a * c - b * c`` or ``(a - b) * c`` (a, b: predicates on loads), else None."""
        if isinstance(expr, tirx.Sub) and isinstance(expr.a, tirx.Mul) and isinstance(expr.b, tirx.Mul):
            ca, cb = _float(expr.a.b), _float(expr.b.b)
            if a_load(expr.a.a) and b_load(expr.b.a) and ca is not None and ca == cb:
                return ca
        if isinstance(expr, tirx.Mul) and isinstance(expr.a, tirx.Sub):
            c = _float(expr.b)
            if c is not None and a_load(expr.a.a) and b_load(expr.a.b):
                return c
        return None

    def region(self, region_arg, buf, what):
        _require(region_arg.source.same_as(buf), f"{what} does not read the expected tensor")
        return [(r.min, r.extent) for r in region_arg.region]

    def full(self, region_arg, buf, what):
        _require(region_arg.source.same_as(buf), f"{what} does not use the expected tile")
        shape = [int(s) for s in buf.ty.shape]
        ok = all(self.az.can_prove_equal(r.min, 0) and self.az.can_prove_equal(r.extent, e)
                 for r, e in zip(region_arg.region, shape))
        _require(ok and len(region_arg.region) == len(shape), f"{what} does not cover the whole tile")

    def head_tile(self, region_arg, tensor, row0, rows, what, groups=1):
        """Check that a copy region is tensor[b, row0:row0 + rows, h // groups, 0:D]."""
        reg = self.region(region_arg, tensor, what)
        (b, b_e), (s, s_e), (h, h_e), (d, d_e) = reg
        az = self.az
        head = self.hvar if groups == 1 else tirx.floordiv(self.hvar, groups)
        _require(az.can_prove_equal(b, self.bvar) and az.can_prove_equal(b_e, 1) and
                 az.can_prove_equal(h, head) and az.can_prove_equal(h_e, 1) and
                 az.can_prove_equal(d, 0) and az.can_prove_equal(d_e, self.D) and
                 az.can_prove_equal(s, row0) and az.can_prove_equal(s_e, rows),
                 f"{what} is not the [batch, rows, head, :] tile of the block")

    # ---- the match -----------------------------------------------------------------------------------------
    def run(self) -> AttentionPlan:
        func = self.func
        params = list(func.params)
        _require(len(params) == 4 and all(isinstance(getattr(p, "ty", None), tirx.BufferType) for p in params),
                 "the kernel does not take exactly four tensors (Q, K, V, Output)")
        Q, K, V, O = params
        dtype = str(Q.ty.dtype)
        _require(dtype in ("float16", "bfloat16") and all(str(p.ty.dtype) == dtype for p in params),
                 "Q, K, V and Output are not all float16 or all bfloat16")
        self.dtype = dtype
        _require(all(len(p.ty.shape) == 4 for p in params), "the tensors are not 4-d [batch, seq_len, heads, dim]")
        shapes = [tuple(_int(s, "a tensor dimension") for s in p.ty.shape) for p in params]
        _require(shapes[0] == shapes[3] and shapes[1] == shapes[2], "Q and Output, or K and V, differ in shape")
        B, S, H, D = shapes[0]
        HKV = shapes[1][2]
        _require(shapes[1][:2] == (B, S) and shapes[1][3] == D and HKV > 0 and H % HKV == 0,
                 "K and V are not [batch, seq_len, kv_heads, dim] with kv_heads dividing heads")
        self.D, self.groups = D, H // HKV

        blocks, threads, body = _launches(func.body)
        blocks = [(var, _int(extent, "a launch extent")) for var, extent in blocks]
        threads = [(var, _int(extent, "a launch extent")) for var, extent in threads]
        _require(len(blocks) == 3 and len(threads) == 1, "the grid is not 3-d with 1-d threads")
        n_threads = threads[0][1]

        stmts = _stmts(body)
        rest = [s for s in stmts if not isinstance(s, tirx.AllocBuffer)]
        loops = [i for i, s in enumerate(rest) if isinstance(s, tirx.For) and NUM_STAGES_ATTR in s.annotations]
        _require(len(loops) == 1, "no single T.Pipelined loop over the KV tiles")
        pre, loop, post = rest[:loops[0]], rest[loops[0]], rest[loops[0] + 1:]

        # -- before the loop: the Q copy, three fills, maybe the loop bound in a scalar
        q_copy, fills, scalars = None, {}, {}
        for s in pre:
            copy, fill = tile_call_of(s, "copy"), tile_call_of(s, "fill")
            if copy is not None and copy.args[0].source.same_as(Q):
                _require(q_copy is None, "Q is copied twice")
                q_copy = copy
            elif fill is not None:
                dst, value = fill.args
                _require(_float(value) is not None, "a T.fill value is not a constant")
                fills[dst.source] = (_float(value), dst)
            elif isinstance(s, tirx.BufferStore) and len(s.buffer.ty.shape) <= 1 and \
                    all(isinstance(i, tirx.IntImm) and int(i) == 0 for i in s.indices):
                _require(s.buffer not in scalars, f"{s.buffer.name} is set twice before the KV loop")
                scalars[s.buffer] = s.value
            else:
                raise _NoMatch("an unexpected statement precedes the KV loop")
        _require(q_copy is not None, "Q is not copied into shared memory before the loop")
        Q_s = q_copy.args[1].source
        BM = _int(Q_s.ty.shape[0], "block_M")
        _require(tuple(int(x) for x in Q_s.ty.shape) == (BM, D) and "shared" in str(Q_s.ty.storage_scope),
                 "the Q tile is not a (block_M, dim) shared buffer")
        _require(str(Q_s.ty.dtype) == dtype, f"the Q tile is {Q_s.ty.dtype}, not {dtype} (the copy would round Q)")

        # the block axes: Q[b, q * BM:(q + 1) * BM, h, :]
        reg = q_copy.args[0].region
        vars_ = {v: e for v, e in blocks}

        def block_var(expr):
            for v in vars_:
                if expr.same_as(v):
                    return v
            return None

        self.bvar, self.hvar = block_var(reg[0].min), block_var(reg[2].min)
        _require(self.bvar is not None and self.hvar is not None and not self.bvar.same_as(self.hvar),
                 "Q is not indexed by the batch and head block axes")
        rest_vars = [v for v in vars_ if not v.same_as(self.bvar) and not v.same_as(self.hvar)]
        _require(len(rest_vars) == 1, "the Q-tile block axis is missing")
        self.qvar = rest_vars[0]
        _require(vars_[self.bvar] == B and vars_[self.hvar] == H and vars_[self.qvar] * BM >= S,
                 "the grid is not (ceildiv(seq_len, block_M), heads, batch)")
        self.head_tile(q_copy.args[0], Q, self.qvar * BM, BM, "the Q copy")
        self.full(q_copy.args[1], Q_s, "the Q copy")

        # -- the loop body, statement by statement
        _require(_int(loop.min, "the loop start") == 0, "the KV loop does not start at 0")
        k = loop.loop_var
        body_stmts = _stmts(loop.body)
        roles = {}

        def put(role, idx, **info):
            _require(role not in roles, f"the KV loop has two statements of the kind '{role}'")
            roles[role] = dict(idx=idx, **info)

        gemms = [(i, g) for i, g in enumerate(tile_call_of(s, "gemm") for s in body_stmts) if g is not None]
        _require(len(gemms) == 2, "the KV loop does not hold exactly two T.gemm")
        for i, g in gemms:
            a, b, c = (r.source for r in g.args[:3])
            _require(not bool(g.attrs["transpose_A"]), "a gemm transposes A")
            for arg in g.args[:3]:
                self.full(arg, arg.source, "a T.gemm operand")
            put("gemm_s" if bool(g.attrs["transpose_B"]) else "gemm_o", i, a=a, b=b, c=c,
                clear=bool(g.attrs["clear_accum"]) if "clear_accum" in g.attrs else False, call=g)
        _require(roles["gemm_s"]["a"].same_as(Q_s), "the first gemm is not Q_s @ K_s^T")
        _require(not roles["gemm_o"]["clear"], "P V overwrites acc_o (clear_accum=True)")
        K_s, acc_s = roles["gemm_s"]["b"], roles["gemm_s"]["c"]
        P, V_s, acc_o = roles["gemm_o"]["a"], roles["gemm_o"]["b"], roles["gemm_o"]["c"]
        BN = _int(K_s.ty.shape[0], "block_N")
        want = {K_s: ((BN, D), self.dtype), V_s: ((BN, D), self.dtype), acc_s: ((BM, BN), "float32"),
                P: ((BM, BN), self.dtype), acc_o: ((BM, D), "float32")}
        for buf, (shape, dt) in want.items():
            _require(tuple(int(x) for x in buf.ty.shape) == shape and str(buf.ty.dtype) == dt,
                     f"{buf.name} is not a {shape} {dt} tile")
        _require(all("shared" in str(b.ty.storage_scope) for b in (K_s, V_s)), "K or V tile is not shared")

        for i, s in enumerate(body_stmts):
            if i in (roles["gemm_s"]["idx"], roles["gemm_o"]["idx"]):
                continue
            self.classify(s, i, put, K, V, K_s, V_s, acc_s, P, acc_o, k, BM, BN)
        for role in ("copy_k", "copy_v", "save_max", "rmax", "alpha", "exp", "rsum", "logsum", "cast", "rescale"):
            _require(role in roles, f"the KV loop lacks its '{role}' step")

        m, m_prev = roles["rmax"]["dst"], roles["save_max"]["dst"]
        _require(roles["save_max"]["src"].same_as(m), "the saved row max is not the reduced one")
        alpha, rsum, logsum = roles["alpha"]["dst"], roles["rsum"]["dst"], roles["logsum"]["dst"]
        for buf in (m, m_prev, alpha, rsum, logsum):
            _require(tuple(int(x) for x in buf.ty.shape) == (BM,) and str(buf.ty.dtype) == "float32",
                     f"{buf.name} is not a (block_M,) float32 fragment")
        stats = (m, m_prev, alpha, rsum, logsum)
        _require(not any(a.same_as(b) for n, a in enumerate(stats) for b in stats[n + 1:]),
                 "the row statistics share buffers")

        # data flow of each step
        _require(roles["alpha"]["prev"].same_as(m_prev) and roles["alpha"]["cur"].same_as(m),
                 "the rescale factor is not exp2(m_prev * c - m * c)")
        _require(roles["exp"]["max"].same_as(m), "the exponent does not subtract the running max")
        scale = roles["alpha"]["c"]
        _require(roles["exp"]["c"] == scale, "the two exp2 scales differ")
        _require(scale > 0, "the softmax scale is not positive")
        _require(roles["logsum"]["alpha"].same_as(alpha) and roles["logsum"]["sum"].same_as(rsum),
                 "the running sum is not l * alpha + rowsum")
        _require(roles["rescale"]["alpha"].same_as(alpha), "acc_o is not rescaled by the exp2 factor")

        order = [("copy_k", "gemm_s"), ("gemm_s", "rmax"), ("save_max", "rmax"), ("rmax", "alpha"),
                 ("rmax", "exp"), ("exp", "rsum"), ("rsum", "logsum"), ("alpha", "logsum"), ("exp", "cast"),
                 ("cast", "gemm_o"), ("alpha", "rescale"), ("rescale", "gemm_o"), ("copy_v", "gemm_o")]
        if "mask" in roles:
            order.append(("mask", "gemm_s"))
        if "reset_max" in roles:
            _require(roles["reset_max"]["dst"].same_as(m) and not roles["rmax"]["clear"],
                     "the -inf fill in the KV loop is not the reset of the reduced row max")
            order += [("save_max", "reset_max"), ("reset_max", "rmax")]
        for a, b in order:
            _require(roles[a]["idx"] < roles[b]["idx"], f"'{a}' does not come before '{b}' in the KV loop")

        # -- causality, from the mask and the loop bound
        NKV = -(-S // BN)
        extent = loop.extent
        extent, used = self.resolve_scalars(extent, scalars)
        self.only_loop_bounds(scalars, used, loop, pre, post)
        _require(not isinstance(extent, tvm.ir.TensorLoad), "the KV loop bound is not known")
        causal = False
        if "mask" in roles:
            _require(not roles["gemm_s"]["clear"], "the mask is overwritten by a clearing gemm")
            causal = roles["mask"]["causal"]
        else:
            _require(roles["gemm_s"]["clear"], "acc_s is neither masked nor cleared before Q K^T")
        if causal:
            bound = tvm.tirx.min(tirx.IntImm("int32", NKV), tvm.tirx.floordiv((self.qvar + 1) * BM + BN - 1, BN))
            self.az.bind(self.qvar, tvm.ir.Range(0, vars_[self.qvar]))
            _require(self.az.can_prove_equal(extent, bound),
                     "the causal KV loop is not min(ceildiv(seq_len, block_N), ceildiv((bx + 1) * block_M, block_N))")
        else:
            _require(self.az.can_prove_equal(extent, NKV), "the KV loop is not ceildiv(seq_len, block_N)")

        # -- fills before the loop
        def filled(buf, value):
            return buf in fills and fills[buf][0] == value and self.full_ok(fills[buf][1], buf)

        _require(filled(acc_o, 0.0), "acc_o is not cleared before the loop")
        _require(filled(logsum, 0.0), "the running sum is not cleared before the loop")
        _require(filled(m, float("-inf")), "the running max does not start at -inf")
        extra = [b for b in fills if not any(b.same_as(x) for x in (acc_o, logsum, m))]
        _require(not extra, "an unexpected T.fill precedes the loop")

        # -- after the loop: acc_o /= l, then to Output (maybe through a shared tile)
        _require(len(post) in (2, 3), "the epilogue is not (acc_o /= l, copies to Output)")
        got = self.store_to(post[0], acc_o, 2)
        _require(got is not None, "the epilogue does not start with acc_o[i, j] /= l[i]")
        (i, j), value = got
        _require(isinstance(value, tirx.Div) and _is_load(value.a, acc_o, [i, j]) and _is_load(value.b, logsum, [i]),
                 "the epilogue does not divide acc_o by the running sum")
        copies = [tile_call_of(s, "copy") for s in post[1:]]
        _require(all(c is not None for c in copies), "the epilogue ends with something other than copies")
        src = acc_o
        for c in copies[:-1]:
            self.full(c.args[0], src, "the epilogue copy")
            dst = c.args[1].source
            _require(tuple(int(x) for x in dst.ty.shape) == (BM, D) and str(dst.ty.dtype) == self.dtype,
                     f"the output staging tile is not (block_M, dim) {self.dtype}")
            self.full(c.args[1], dst, "the epilogue copy")
            src = dst
        self.full(copies[-1].args[0], src, "the output copy")
        self.head_tile(copies[-1].args[1], O, self.qvar * BM, BM, "the output copy")

        # -- what the kernel handles
        _require(D in (64, 128), "dim is not 64 or 128")
        _require(BM in (64, 128), "block_M is not 64 or 128")
        _require(BN in (64, 128), "block_N is not 64 or 128")
        _require(S % BM == 0 and S % BN == 0, "seq_len is not a multiple of block_M and block_N")
        _require(n_threads == 2 * BM, "threads is not 128 per 64 rows of block_M (one consumer warpgroup each)")
        name = str(func.attrs["global_symbol"]) if func.attrs is not None and "global_symbol" in func.attrs \
            else "flash_attention"
        plan = AttentionPlan(name, B, H, S, D, causal, scale, BM, BN, self.dtype, self.num_sms, HKV)
        from .attention_kernel import attention_smem_bytes
        _require(attention_smem_bytes(plan) <= _SMEM_LIMIT, "the tiles need more shared memory than sm_90 has")
        return plan

    @staticmethod
    def resolve_scalars(expr, scalars):
        """``expr`` with every load of a local scalar set before the loop replaced by its value (repeatedly), and
        the scalars it read."""
        used = []

        def load(node):
            for buf, value in scalars.items():
                if node.source.same_as(buf):
                    used.append(buf)
                    return value
            return node

        for _ in range(len(scalars) + 1):
            before = len(used)
            expr = tvm_ffi.structural_map(expr, [(tvm.ir.TensorLoad, load)])
            if len(used) == before:
                break
        return expr, used

    def only_loop_bounds(self, scalars, used, loop, pre, post):
        """A store to a small buffer before the loop is kept only as (part of) the loop bound: refuse it when
        anything else reads that buffer (a row statistic set before the loop, say), or when the bound does not."""
        if not scalars:
            return
        for buf in scalars:
            _require(any(buf.same_as(u) for u in used),
                     f"the store to {buf.name} before the KV loop is not the loop bound (the kernel would drop it)")
        uses = []

        def seen(node):
            source = node.buffer if isinstance(node, tirx.BufferStore) else node.source
            if any(source.same_as(b) for b in scalars):
                uses.append(source.name)

        others = [s for s in pre if not (isinstance(s, tirx.BufferStore) and s.buffer in scalars)]
        for stmt in [*others, loop.body, *post]:
            tvm_ffi.structural_walk(stmt, [(tvm.ir.TensorLoad, seen), (tvm.ir.TensorRegion, seen),
                                           (tirx.BufferStore, seen)])
        _require(not uses, f"{uses[0] if uses else ''} is set before the KV loop and used by the program, not only "
                           "as the loop bound (the kernel would drop the store)")

    def full_ok(self, region_arg, buf) -> bool:
        try:
            self.full(region_arg, buf, "a fill")
            return True
        except _NoMatch:
            return False

    def classify(self, s, idx, put, K, V, K_s, V_s, acc_s, P, acc_o, k, BM, BN):
        copy = tile_call_of(s, "copy")
        if copy is not None:
            src, dst = copy.args[0].source, copy.args[1].source
            if src.same_as(K):
                _require(dst.same_as(K_s), "K is not copied into the tile of Q K^T")
                self.head_tile(copy.args[0], K, k * BN, BN, "the K copy", self.groups)
                self.full(copy.args[1], K_s, "the K copy")
                return put("copy_k", idx)
            if src.same_as(V):
                _require(dst.same_as(V_s), "V is not copied into the tile of P V")
                self.head_tile(copy.args[0], V, k * BN, BN, "the V copy", self.groups)
                self.full(copy.args[1], V_s, "the V copy")
                return put("copy_v", idx)
            if src.same_as(acc_s):
                _require(dst.same_as(P), "acc_s is not cast into the A operand of P V")
                self.full(copy.args[0], acc_s, "the P cast")
                self.full(copy.args[1], P, "the P cast")
                return put("cast", idx)
            _require(tuple(int(x) for x in src.ty.shape) == (BM,), "an unexpected T.copy in the KV loop")
            self.full(copy.args[0], src, "the row-max copy")
            self.full(copy.args[1], dst, "the row-max copy")
            return put("save_max", idx, src=src, dst=dst)
        red = tile_call_of(s, "reduce")
        if red is not None:
            _require(red.args[0].source.same_as(acc_s) and int(red.attrs["dim"]) == 1,
                     "a reduction is not over the rows of acc_s")
            self.full(red.args[0], acc_s, "a row reduction")
            dst = red.args[1].source
            self.full(red.args[1], dst, "a row reduction")
            kind, clear = str(red.attrs["kind"]), bool(red.attrs["clear"])
            if kind == "max":  # clear=True: the tile's own row max (see reset_max)
                return put("rmax", idx, dst=dst, clear=clear)
            if kind == "sum":
                _require(clear, "reduce_sum accumulates into the row sum (clear=False)")
                return put("rsum", idx, dst=dst)
            raise _NoMatch(f"an unexpected reduction '{kind}'")
        fill = tile_call_of(s, "fill")
        if fill is not None and tuple(int(x) for x in fill.args[0].source.ty.shape) == (BM,) and \
                _float(fill.args[1]) == float("-inf"):
            # TileLang's example: copy(m, m_prev); fill(m, -inf); reduce_max(acc_s, m, clear=False). Then m is the
            # tile's row max, not the running one; O and l are rescaled consistently either way, so the result is
            # the same function, and the kernel keeps the running max (which cannot overflow exp2).
            self.full(fill.args[0], fill.args[0].source, "the row-max reset")
            return put("reset_max", idx, dst=fill.args[0].source)
        if fill is not None:
            _require(fill.args[0].source.same_as(acc_s) and _float(fill.args[1]) == 0.0,
                     "an unexpected T.fill in the KV loop")
            self.full(fill.args[0], acc_s, "the acc_s clear")
            return put("mask", idx, causal=False)
        _require(isinstance(s, tirx.For) and s.kind == tirx.ForKind.PARALLEL, "an unexpected statement in the KV loop")
        if isinstance(s.body, tirx.For):  # 2-d: mask, exp or rescale
            got = self.store_to(s, acc_s, 2)
            if got is not None:
                (i, j), value = got
                if _is_call(value, "prim.if_then_else"):
                    return put("mask", idx, causal=self.mask_kind(value, i, j, k, BM, BN))
                _require(_is_call(value, "tirx.exp2"), "acc_s is updated by something other than exp2 or a mask")
                holder = {}

                def rowmax(e):
                    if isinstance(e, tvm.ir.TensorLoad) and len(e.indices) == 1 and e.indices[0].same_as(i):
                        holder["m"] = e.source
                        return True
                    return False

                c = self.scaled_diff(value.args[0], lambda e: _is_load(e, acc_s, [i, j]), rowmax)
                _require(c is not None, "the exponent is not exp2(acc_s * c - m * c)")
                return put("exp", idx, c=c, max=holder["m"])
            got = self.store_to(s, acc_o, 2)
            _require(got is not None, "an unexpected 2-d T.Parallel in the KV loop")
            (i, j), value = got
            _require(isinstance(value, tirx.Mul), "acc_o is updated by something other than a row rescale")
            for a, b in ((value.a, value.b), (value.b, value.a)):
                if _is_load(a, acc_o, [i, j]) and isinstance(b, tvm.ir.TensorLoad) and len(b.indices) == 1 \
                        and b.indices[0].same_as(i):
                    return put("rescale", idx, alpha=b.source)
            raise _NoMatch("acc_o is not rescaled as acc_o[i, j] * alpha[i]")
        # 1-d: alpha or the running sum
        got = self.par_store(s, [BM])
        _require(got is not None, "an unexpected 1-d T.Parallel in the KV loop")
        (i,), store = got
        dst = store.buffer
        _require(len(store.indices) == 1 and store.indices[0].same_as(i), "a row update is not dst[i] = ...")
        value = store.value

        def row_load(e, holder, key):
            if isinstance(e, tvm.ir.TensorLoad) and len(e.indices) == 1 and e.indices[0].same_as(i):
                holder[key] = e.source
                return True
            return False

        if _is_call(value, "tirx.exp2"):
            h = {}
            c = self.scaled_diff(value.args[0], lambda e: row_load(e, h, "prev"), lambda e: row_load(e, h, "cur"))
            _require(c is not None, "the rescale factor is not exp2(m_prev * c - m * c)")
            return put("alpha", idx, dst=dst, c=c, prev=h["prev"], cur=h["cur"])
        _require(isinstance(value, tirx.Add), "an unexpected row update in the KV loop")
        for prod, add in ((value.a, value.b), (value.b, value.a)):
            if isinstance(prod, tirx.Mul):
                for a, b in ((prod.a, prod.b), (prod.b, prod.a)):
                    h = {}
                    if _is_load(a, dst, [i]) and row_load(b, h, "alpha") and row_load(add, h, "sum"):
                        return put("logsum", idx, dst=dst, alpha=h["alpha"], sum=h["sum"])
        raise _NoMatch("the running sum is not l[i] * alpha[i] + rowsum[i]")

    def mask_kind(self, value, i, j, k, BM, BN) -> bool:
        """True for the causal mask, False for the (always-keep) bounds mask; refuses anything else."""
        cond, then, other = value.args
        t, o = _float(then), _float(other)
        _require(t is not None and o is not None, "the mask values are not constants")
        if isinstance(cond, tirx.LE):
            lhs, rhs = cond.b, cond.a
        else:
            _require(isinstance(cond, tirx.GE), "the mask condition is not a >= comparison")
            lhs, rhs = cond.a, cond.b
        az = self.az
        S = int(self.func.params[0].ty.shape[1])
        if t == 0.0 and o == float("-inf"):
            _require(az.can_prove_equal(lhs - rhs, (self.qvar * BM + i) - (k * BN + j)),
                     "the mask keeps something other than key <= query")
            return True
        _require(t == float("-inf") and o == 0.0, "the mask is not (0, -inf)")
        _require(az.can_prove_equal(lhs - rhs, k * BN + j - S),
                 "the bounds mask is not k * block_N + j >= seq_len")
        _require(S % BN == 0, "seq_len is not a multiple of block_N (the bounds mask would be active)")
        return False
