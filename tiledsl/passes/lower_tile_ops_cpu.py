"""LowerTileOpsCPU: tile ops and ``T.Parallel`` loops become whole-tile loop nests for the CPU.

Expects: a PrimFunc straight from the language (tile Op calls with TensorRegion operands, ``T.Parallel`` loops
annotated ``tiledsl.parallel``). Guarantees: no tiledsl Op remains; every access of a global tensor made by a tile
op or inside ``T.Parallel`` is guarded (loads outside read 0, stores outside are dropped). On the CPU a block runs
its tile ops one after another, so a tile op is a plain loop nest over the whole tile. Runs before
KernelToLoopsCPU.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad, TensorRegion

from ..errors import CompileError
from ..ir.ops import is_tile_call
from ..language.loops import PARALLEL_ATTR
from .pass_errors import keep_tiledsl_errors
from .rewriter import StmtRewriter, loop_nest, rebuild_for, seq
from .tile_lowering_utils import (bounds_predicate, cast_to, const_ints, flat_index, guarded_load, guarded_store,
                                  is_global, non_unit_extents, reduce_combine, reduce_identity, reduce_spec,
                                  region_indices, unravel)


class _Lowerer(StmtRewriter):
    def visit_Evaluate(self, stmt):
        call = stmt.value
        if not is_tile_call(call):
            return stmt
        name = call.op.name.split(".", 1)[1]
        return getattr(self, "lower_" + name)(call)

    def visit_For(self, stmt):
        if PARALLEL_ATTR not in stmt.annotations:
            return super().visit_For(stmt)
        self._bind(stmt.loop_var, stmt.min, stmt.extent)
        body = self.visit(stmt.body)
        if not (isinstance(body, tirx.For) and PARALLEL_ATTR in body.annotations):
            body = self.guard_global_accesses(body)  # innermost T.Parallel loop: guard once
        annotations = {k: v for k, v in stmt.annotations.items() if k != PARALLEL_ATTR}
        return rebuild_for(stmt, body=body, kind=tirx.ForKind.SERIAL, annotations=annotations)

    # ------------------------------------------------------------------ T.Parallel bodies
    def guard_global_accesses(self, body):
        """Loads of global tensors outside their bounds read 0; stores there are dropped."""
        def on_load(load):
            if not is_global(load.source):
                return load
            return guarded_load(load.source, list(load.indices), self.analyzer)

        def on_store(store):
            if not is_global(store.buffer):
                return store
            pred = bounds_predicate(store.buffer, list(store.indices), self.analyzer)
            return store if pred is None else tirx.IfThenElse(pred, store, None)

        return tvm_ffi.structural_map(body, [(TensorLoad, on_load), (tirx.BufferStore, on_store)], order="post")

    # ------------------------------------------------------------------ tile ops
    def nest(self, extents, body_fn, names=None):
        """A loop nest whose variables the analyzer knows while the body is built."""
        def bound_body(loop_vars):
            for var, ext in zip(loop_vars, extents):
                self._bind(var, 0, ext)
            return body_fn(loop_vars)
        return loop_nest(extents, bound_body, names=names)

    def lower_copy(self, call):
        src, dst = call.args
        extents = non_unit_extents(dst)

        def body(ix):
            value = guarded_load(src.source, region_indices(src, ix), self.analyzer)
            return guarded_store(dst.source, value, region_indices(dst, ix), self.analyzer)
        return self.nest(extents, body)

    def lower_fill(self, call):
        dst, value = call.args
        return self.nest(non_unit_extents(dst),
                         lambda ix: guarded_store(dst.source, value, region_indices(dst, ix), self.analyzer))

    def lower_gemm(self, call):
        a, b, c = call.args
        trans_a, trans_b = bool(call.attrs["transpose_A"]), bool(call.attrs["transpose_B"])
        M, N = _tile2(c)
        K = _tile2(a)[0 if trans_a else 1]
        acc = str(c.source.ty.dtype)
        stmts = []
        if bool(call.attrs["clear_accum"]):
            stmts.append(self.nest([M, N], lambda ij: tirx.BufferStore(
                c.source, tirx.const(0, acc), _idx2(c, *ij))))

        def body(ikj):
            i, k, j = ikj
            a_val = tirx.BufferLoad(a.source, _idx2(a, k, i) if trans_a else _idx2(a, i, k))
            b_val = tirx.BufferLoad(b.source, _idx2(b, j, k) if trans_b else _idx2(b, k, j))
            c_idx = _idx2(c, i, j)
            return tirx.BufferStore(c.source, tirx.BufferLoad(c.source, c_idx) +
                                    cast_to(a_val, acc) * cast_to(b_val, acc), c_idx)
        stmts.append(self.nest([M, K, N], body, names=["i", "k", "j"]))
        return seq(stmts)

    def lower_reduce(self, call):
        spec = reduce_spec(call)
        src, dst, kind, dim, clear = spec.src, spec.dst, spec.kind, spec.dim, spec.clear
        src_shape, dst_shape, kept, dtype = spec.src_shape, spec.dst_shape, spec.kept, spec.dtype

        def dst_index(kept_vars):
            flat = flat_index(kept_vars, kept) if kept else tirx.const(0, "int32")
            return [r.min + i for r, i in zip(dst.region, unravel(flat, dst_shape))]

        stmts = []
        if clear:
            stmts.append(self.nest(kept or [1], lambda kv: tirx.BufferStore(
                dst.source, reduce_identity(kind, dtype), dst_index(kv if kept else []))))

        def body(all_vars):
            kept_vars, r = all_vars[:-1], all_vars[-1]
            src_idx = kept_vars[:dim] + [r] + kept_vars[dim:]
            value = cast_to(tirx.BufferLoad(src.source, [rg.min + i for rg, i in zip(src.region, src_idx)]), dtype)
            d_idx = dst_index(kept_vars)
            return tirx.BufferStore(dst.source, reduce_combine(kind, tirx.BufferLoad(dst.source, d_idx), value), d_idx)
        stmts.append(self.nest(kept + [src_shape[dim]], body))
        return seq(stmts)

    def lower_atomic_add(self, call):
        dst, value = call.args
        if isinstance(value, TensorRegion):
            extents = non_unit_extents(value)

            def body(ix):
                d_idx = region_indices(dst, ix)
                v = tirx.BufferLoad(value.source, region_indices(value, ix))
                total = tirx.BufferLoad(dst.source, d_idx) + cast_to(v, str(dst.source.ty.dtype))
                return guarded_store(dst.source, total, d_idx, self.analyzer)
            return self.nest(extents, body)
        d_idx = [r.min for r in dst.region]
        return guarded_store(dst.source, tirx.BufferLoad(dst.source, d_idx) + value, d_idx, self.analyzer)

    def lower_use_swizzle(self, call):
        return tirx.Evaluate(tirx.const(0, "int32"))  # block order does not matter on the CPU


def _dims2(region) -> list[int]:
    """The two dimensions of a region that form its 2-d tile (unit dimensions of higher-rank regions skipped)."""
    dims = [k for k, r in enumerate(region.region) if not (isinstance(r.extent, tirx.IntImm) and int(r.extent) == 1)]
    if len(dims) != 2:
        dims = list(range(len(region.region)))[-2:]
    if len(dims) != 2:
        raise CompileError(f"T.gemm: {region.source.name} is not a 2-d tile")
    return dims


def _tile2(region) -> tuple[int, int]:
    """(rows, cols) of a region's 2-d tile."""
    ext = const_ints([r.extent for r in region.region], "T.gemm")
    rows, cols = _dims2(region)
    return ext[rows], ext[cols]


def _idx2(region, row, col):
    """Buffer indices of element (row, col) of a region's 2-d tile."""
    rows, cols = _dims2(region)
    out = [r.min for r in region.region]
    out[rows] = out[rows] + row
    out[cols] = out[cols] + col
    return out


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.LowerTileOpsCPU")
@keep_tiledsl_errors
def LowerTileOpsCPU(func, mod, ctx):
    """Lower tile ops and T.Parallel loops to whole-tile loop nests (CPU target)."""
    return func.with_body(_Lowerer().visit(func.body))
