"""``tilelang.carver.template``: computations the carver plans tiles for.

``MatmulTemplate`` is implemented (a Roller-style planner, ``tiledsl.carver.roller.matmul_policy``); the other
templates' names import, and constructing one raises ConfigError.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from . import _name

GEMVTemplate = _name("GEMVTemplate")
ElementwiseTemplate = _name("ElementwiseTemplate")
GeneralReductionTemplate = _name("GeneralReductionTemplate")
FlashAttentionTemplate = _name("FlashAttentionTemplate")
ConvTemplate = _name("ConvTemplate")


@dataclass
class MatmulTemplate:
    """C[M, N] = A[M, K] @ B (B stored (N, K) when ``trans_B``, TileLang's default), accumulated in
    ``accum_dtype``: ``MatmulTemplate(M=..., N=..., K=..., in_dtype=..., ...).with_arch(CUDA(...))``, then
    ``recommend_hints(topk)`` and ``equivalent_function()``."""

    M: int = None
    N: int = None
    K: int = None
    trans_A: bool = False
    trans_B: bool = True
    in_dtype: str = "float16"
    out_dtype: str = "float16"
    accum_dtype: str = "float16"
    with_bias: bool = False

    def __post_init__(self):
        for name in ("M", "N", "K"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"MatmulTemplate: {name}={value!r} must be a positive int")
        self.in_dtype, self.out_dtype, self.accum_dtype = str(self.in_dtype), str(self.out_dtype), \
            str(self.accum_dtype)
        self._arch = None

    def with_arch(self, arch) -> "MatmulTemplate":
        """Plan for ``arch`` (a ``tiledsl.carver.arch.CUDA``); returns self."""
        self._arch = arch
        return self

    def has_arch(self) -> bool:
        """True once ``with_arch`` was called."""
        return self._arch is not None

    def recommend_hints(self, topk: int = 10) -> list:
        """Up to ``topk`` tile configurations (``Hint``), best first."""
        if self._arch is None:
            raise ConfigError("MatmulTemplate.recommend_hints: call .with_arch(CUDA(...)) first")
        from .roller.matmul_policy import recommend

        return recommend(self.M, self.N, self.K, self.in_dtype, self.accum_dtype, self._arch, topk)

    get_hardware_aware_configs = None  # set below: TileLang's other name, with the arch as an argument

    def equivalent_function(self):
        """The computation as a TIR PrimFunc (a TE compute of the GEMM)."""
        from tvm import te

        a_shape = (self.K, self.M) if self.trans_A else (self.M, self.K)
        b_shape = (self.N, self.K) if self.trans_B else (self.K, self.N)
        A = te.placeholder(a_shape, self.in_dtype, name="A")
        B = te.placeholder(b_shape, self.in_dtype, name="B")
        k = te.reduce_axis((0, self.K), name="k")

        def product(i, j):
            a = A[k, i] if self.trans_A else A[i, k]
            b = B[j, k] if self.trans_B else B[k, j]
            return te.sum(a.astype(self.accum_dtype) * b.astype(self.accum_dtype), axis=k)

        acc = te.compute((self.M, self.N), product, name="C_acc")
        tensors = [A, B]
        if self.with_bias:
            bias = te.placeholder((self.N,), self.out_dtype, name="Bias")
            tensors.append(bias)
            C = te.compute((self.M, self.N), lambda i, j: acc[i, j].astype(self.out_dtype) + bias[j], name="C")
        else:
            C = te.compute((self.M, self.N), lambda i, j: acc[i, j].astype(self.out_dtype), name="C")
        return te.create_prim_func(tensors + [C])


def _hardware_aware_configs(self, arch=None, topk: int = 10) -> list:
    """``recommend_hints`` for ``arch`` (or the one given to ``with_arch``)."""
    if arch is not None:
        self.with_arch(arch)
    return self.recommend_hints(topk)


MatmulTemplate.get_hardware_aware_configs = _hardware_aware_configs
