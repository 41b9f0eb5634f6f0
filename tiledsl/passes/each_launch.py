"""Run a target's tile passes on each ``T.Kernel`` launch of a program separately.

A program may launch several kernels one after the other (TileLang's split-K attention: a ``T.Kernel`` that
writes partial results into a ``T.alloc_global`` workspace, then one that combines them). The CUDA tile passes
lower one launch per function (one set of thread indices, one pipeline, one layout plan), so this pass cuts the
function at its top-level launches, lowers each as a function of its own (same parameters and attributes), and
puts the lowered launches back in order. Expects the program as the front end builds it; a program with one launch
(or launches nested where they cannot be cut out) goes through the passes whole, unchanged.
"""
from __future__ import annotations

import tvm
import tvm_ffi
from tvm import tirx


_PIPELINES = "tiledsl.pipelines"  # how each launch's pipelined loops were built (kept for kernel_info, in order)


def _is_grid_launch(stmt) -> bool:
    return (isinstance(stmt, tirx.AttrStmt) and stmt.attr_key == "thread_extent"
            and str(stmt.node.thread_tag).startswith("blockIdx"))


def _top_level_launches(stmt) -> list | None:
    """The launches directly in the body's statement sequence, or None when one sits inside another statement."""
    if _is_grid_launch(stmt):
        return [stmt]
    if isinstance(stmt, tirx.SeqStmt):
        out = []
        for s in stmt.seq:
            sub = _top_level_launches(s)
            if sub is None:
                return None
            out += sub
        return out
    found = []
    tvm_ffi.structural_walk(stmt, (tirx.AttrStmt, lambda a: found.append(a) if _is_grid_launch(a) else None))
    return None if found else []


def launch_count(func) -> int:
    """How many kernels a function launches one after the other (1 for a function that cannot be cut)."""
    launches = _top_level_launches(func.body)
    return 1 if launches is None else len(launches)


def _replace(stmt, lowered: dict):
    if _is_grid_launch(stmt):
        return lowered[stmt]
    if isinstance(stmt, tirx.SeqStmt):
        return tirx.SeqStmt([_replace(s, lowered) for s in stmt.seq])
    return stmt


def each_launch(passes: list):
    """A module pass that applies ``passes`` to the module as it is when no function launches several kernels
    (the common case, unchanged), else to each top-level launch of every function on its own."""
    seq = tvm.ir.transform.Sequential(passes)

    @tvm.ir.transform.module_pass(opt_level=0, name="TileDSLEachLaunch")
    def run(mod, ctx):
        split = {gv: _top_level_launches(f.body) for gv, f in mod.functions.items() if isinstance(f, tirx.PrimFunc)}
        if all(launches is None or len(launches) <= 1 for launches in split.values()):
            return seq(mod)
        out = {}
        for gv, func in mod.functions.items():
            launches = split.get(gv)
            if launches is None or len(launches) <= 1:
                out[gv] = seq(tvm.IRModule({gv: func}))[gv]
                continue
            funcs = {launch: seq(tvm.IRModule({gv: func.with_body(launch)}))[gv] for launch in launches}
            whole = func.with_body(_replace(func.body, {launch: f.body for launch, f in funcs.items()}))
            kinds = [k for f in funcs.values() if f.attrs is not None and _PIPELINES in f.attrs
                     for k in f.attrs[_PIPELINES]]
            out[gv] = whole.with_attr(_PIPELINES, kinds) if kinds else whole
        return tvm.IRModule(out, attrs=mod.attrs)

    return run
