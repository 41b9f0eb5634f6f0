"""``TILEDSL_RASTER=G`` (``passes/cuda/warp_specialize.py``, ``_Persistent._grouped``; G = 8 by default, 0 for
launch order): a persistent grid walks each (x, y) plane of tiles in groups of G rows of blockIdx.y, down each
group's rows first.

CPU: the order is a bijection of the grid for ragged and whole groups, two and three block dimensions, and the
rows it walks first are the group's. nvcc: a warp-specialized GEMM builds with it and its source holds the grouped
index; ``TILEDSL_RASTER=0`` is the launch order. GPU: GEMMs (ragged last group, several tiles per CTA, A^T with a
residual, a batched GEMM) against torch, outputs poisoned with NaN.
"""
import pytest
import torch
from tvm import tirx
from tvm.sym import Analyzer

import general_programs as bench
import tiledsl
from tiledsl.passes.cuda.warp_specialize import _Persistent
from tiledsl.passes.rewriter import substitute

SM90A = {"kind": "cuda", "arch": "sm_90a"}


pytestmark = pytest.mark.usefixtures("general_passes_only")


@pytest.fixture(autouse=True)
def _switches(monkeypatch):
    monkeypatch.delenv("TILEDSL_PERSISTENT", raising=False)


def _order(extents, rows, ctas):
    """The (x, y[, z]) block of each tile, in the order the CTAs take them (tile t = cta + j * ctas)."""
    tags = ("blockIdx.x", "blockIdx.y", "blockIdx.z")
    persistent = object.__new__(_Persistent)
    persistent.dims = {tag: (tirx.Var(tag[-1], "int32"), tirx.const(n, "int32")) for tag, n in zip(tags, extents)}
    persistent.raster_rows = rows
    persistent.ctas = tirx.const(ctas, "int32")
    persistent.cta, persistent.tile = tirx.Var("cta", "int32"), tirx.Var("tile_iter", "int32")
    values = persistent.block_values()
    total = 1
    for n in extents:
        total *= n
    analyzer, order = Analyzer(), []
    for t in range(total):
        at = {persistent.cta: tirx.const(t % ctas, "int32"), persistent.tile: tirx.const(t // ctas, "int32")}
        order.append(tuple(int(analyzer.simplify(substitute(values[var], at)))
                           for var, _ in (persistent.dims[tag] for tag in tags[:len(extents)])))
    return order


@pytest.mark.parametrize("extents,rows", [((4, 9), 8), ((4, 16), 8), ((3, 5), 2), ((5, 3), 8), ((2, 7, 3), 3),
                                          ((1, 6), 4), ((6, 1), 4)])
def test_the_grouped_order_visits_every_tile_once(extents, rows):
    order = _order(extents, rows, ctas=5)
    full = {(x, y) if len(extents) == 2 else (x, y, z) for x in range(extents[0]) for y in range(extents[1])
            for z in range(extents[2] if len(extents) > 2 else 1)}
    assert len(order) == len(full) and set(order) == full


def test_the_grouped_order_walks_a_groups_rows_first():
    """4 columns, 9 rows, groups of 8: rows 0-7 of column 0, then of column 1, ...; then row 8 column by column."""
    order = _order((4, 9), 8, ctas=3)
    assert order[:9] == [(0, y) for y in range(8)] + [(1, 0)]
    assert order[32:] == [(x, 8) for x in range(4)]


@pytest.mark.nvcc
def test_a_warp_specialized_gemm_builds_with_the_grouped_order(monkeypatch):
    program = lambda: bench.gemm(2304, 2048, 256, block_N=128)  # noqa: E731  (16 x 18 tiles: groups of 8, 8, 2)
    grouped = tiledsl.compile(program(), out_idx=[], target=SM90A).get_kernel_source()
    monkeypatch.setenv("TILEDSL_RASTER", "0")
    plain = tiledsl.compile(program(), out_idx=[], target=SM90A).get_kernel_source()
    assert "tile_iter" in plain and "tile_iter" in grouped and plain != grouped
    assert "min(8, " in grouped and "min(8, " not in plain


def test_a_negative_raster_is_refused(monkeypatch):
    monkeypatch.setenv("TILEDSL_RASTER", "-2")
    with pytest.raises(ValueError, match="TILEDSL_RASTER"):
        tiledsl.config.persistent_raster_rows()


GPU_CASES = {  # name: (M, N, K, kwargs, TILEDSL_PERSISTENT, TILEDSL_RASTER)
    "ragged_last_group": (2304, 2048, 256, {"block_N": 128}, "1", "8"),  # 16 x 18 tiles, groups of 8, 8, 2
    "five_ctas_groups_of_3": (1000, 1800, 200, {"block_N": 64}, "5", "3"),  # 232 tiles on 5 CTAs
    "residual_A_T": (384, 512, 256, {"residual": True, "trans_A": True, "block_N": 128}, "3", "2"),
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(GPU_CASES))
def test_grouped_gemm_matches_torch(name, monkeypatch):
    M, N, K, kw, ctas, rows = GPU_CASES[name]
    monkeypatch.setenv("TILEDSL_PERSISTENT", ctas)
    monkeypatch.setenv("TILEDSL_RASTER", rows)
    kernel = tiledsl.compile(bench.gemm(M, N, K, **kw), out_idx=[], target="cuda")
    assert "tile_iter" in kernel.get_kernel_source()
    a = torch.randn((K, M) if kw.get("trans_A") else (M, K), device="cuda").half()
    b, r = torch.randn(K, N, device="cuda").half(), torch.randn(M, N, device="cuda").half()
    c = torch.full((M, N), float("nan"), device="cuda", dtype=torch.float16)
    kernel(a, b, r, c)
    torch.cuda.synchronize()
    want = (a.float().T if kw.get("trans_A") else a.float()) @ b.float() + (r.float() if kw.get("residual") else 0)
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.float(), want, rtol=2e-2, atol=2e-1)


@pytest.mark.gpu
def test_grouped_batched_gemm_matches_torch(monkeypatch):
    """Three block dimensions: 3 x 2 column x row tiles per batch, 4 batches, groups of 2 rows, 5 CTAs."""
    monkeypatch.setenv("TILEDSL_PERSISTENT", "5")
    monkeypatch.setenv("TILEDSL_RASTER", "2")
    kernel = tiledsl.compile(bench.batched_gemm(4, 256, 384, 512, block_N=128), out_idx=[], target="cuda")
    assert "tile_iter" in kernel.get_kernel_source()
    a, b = torch.randn(4, 256, 512, device="cuda").half(), torch.randn(4, 512, 384, device="cuda").half()
    c = torch.full((4, 256, 384), float("nan"), device="cuda", dtype=torch.float16)
    kernel(a, b, c)
    torch.cuda.synchronize()
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.float(), a.float() @ b.float(), rtol=2e-2, atol=2e-1)
