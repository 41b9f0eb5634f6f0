"""Differential programs for the Hopper matchers: every program form they accept, and perturbations of each form,
one change at a time (a flag, a region, a bound or grid extent, a dtype, an extra statement).

A perturbation either keeps what the program computes (the matcher may accept it) or changes it (the matcher must
refuse it, or the kernel must compute the changed function). ``Case.expect`` says which decision we expect;
``testing/test_differential.py`` checks the decisions on the CPU and ``testing/test_differential_gpu.py`` runs every
case on the GPU and on the CPU and compares the outputs. Programs are built from plain dicts (``Case.spec``), so a
worker process can rebuild them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

import tiledsl.language as T
from gemm_tolerance import gemm_bound

ACCEPT, REFUSE = "accept", "refuse"


@dataclass(frozen=True)
class Case:
    """One program: ``kind`` "gemm" or "attention", its knobs, and the matcher decision we expect."""

    name: str
    kind: str
    spec: dict = field(hash=False)
    expect: str

    @property
    def undefined(self) -> bool:
        """The perturbation makes the program read memory it never wrote (its result is undefined): it must still
        be refused, but no two builds of it need agree."""
        return self.name.rpartition(":")[2] in UNDEFINED_PERTURBATIONS

    def program(self):
        """The PrimFunc of this case."""
        return gemm_program(**self.spec) if self.kind == "gemm" else attention_program(**self.spec)


# Perturbations whose program reads registers or shared memory it never wrote: the accumulator without a clear
# (GEMM "no_clear"), A_s with only half its rows copied ("copy_a_half_rows"), the score tile neither masked nor
# cleared before the first Q K^T ("no_mask"), the row sum accumulated from an unset value ("rsum_accumulates").
UNDEFINED_PERTURBATIONS = frozenset({"no_clear", "copy_a_half_rows", "no_mask", "rsum_accumulates"})


# ---- GEMM ---------------------------------------------------------------------------------------------------------

def gemm_program(M=256, N=256, K=256, dtype="float16", out="float16", bm=128, bn=128, bk=64, stages=3, threads=256,
                 transpose_B=False, b_dtype=None, a_tile=None, b_tile=None, acc="float32", clear_accum=False,
                 fill=0.0, clear=True, grid_m=0, grid_n=0, a_row0=0, b_k0=0, k_delta=0, a_rows=None, gemm_rows=None,
                 store_rows=None, staging=None, epilogue=None, extra=None, swizzle=False):
    """The canonical tiled GEMM with knobs: each knob at its default gives the program the matcher must accept;
    ``grid_m``/``grid_n`` add to the grid, ``a_row0``/``b_k0`` shift a copy's origin, ``k_delta`` the k-loop extent,
    ``*_rows`` restrict a region to fewer rows, ``a_tile``/``b_tile``/``acc``/``staging`` set tile dtypes,
    ``epilogue`` and ``extra`` add statements."""
    b_dtype = b_dtype or dtype
    b_shape, b_tile_shape = ((N, K), (bn, bk)) if transpose_B else ((K, N), (bk, bn))
    grid_x, grid_y = -(-N // bn) + grid_n, -(-M // bm) + grid_m
    k_tiles = -(-K // bk) + k_delta

    @T.prim_func
    def gemm(A: T.Tensor((M, K), dtype), B: T.Tensor(b_shape, b_dtype), bias: T.Tensor((N,), "float32"),
             C: T.Tensor((M, N), out)):
        with T.Kernel(grid_x, grid_y, threads=threads) as (bx, by):
            A_s = T.alloc_shared((bm, bk), a_tile or dtype)
            B_s = T.alloc_shared(b_tile_shape, b_tile or b_dtype)
            C_f = T.alloc_fragment((bm, bn), acc)
            if swizzle:
                T.use_swizzle(8)
            if clear:
                T.fill(C_f, fill)
            for k in T.Pipelined(k_tiles, num_stages=stages):
                if a_rows is None:
                    T.copy(A[by * bm + a_row0, k * bk], A_s)
                else:
                    T.copy(A[by * bm:by * bm + a_rows, k * bk:(k + 1) * bk], A_s[0:a_rows, :])
                if transpose_B:
                    T.copy(B[bx * bn, k * bk + b_k0], B_s)
                else:
                    T.copy(B[k * bk + b_k0, bx * bn], B_s)
                if gemm_rows is None:
                    T.gemm(A_s, B_s, C_f, transpose_B=transpose_B, clear_accum=clear_accum)
                else:
                    T.gemm(A_s[0:gemm_rows, :], B_s, C_f[0:gemm_rows, :], transpose_B=transpose_B,
                           clear_accum=clear_accum)
                if extra == "store_in_loop":
                    C_f[0, 0] = 0.0
            if epilogue == "bias_relu":
                for i, j in T.Parallel(bm, bn):
                    C_f[i, j] = T.max(C_f[i, j] + bias[bx * bn + j], 0.0)
            elif epilogue == "row_index":
                for i, j in T.Parallel(bm, bn):
                    C_f[i, j] = C_f[i, j] * 0.5 + bias[bx * bn + j] + T.Cast("float32", by * bm + i) * 0.25
            elif epilogue == "neighbour":
                for i, j in T.Parallel(bm, bn):
                    C_f[i, j] = C_f[i, (j + 1) % bn]
            elif epilogue == "partial":
                for i, j in T.Parallel(bm // 2, bn):
                    C_f[i, j] = C_f[i, j] * 2.0
            if extra == "scalar_store":
                C_f[0, 0] = 1.0
            elif extra == "refill":
                T.fill(C_f, 1.0)
            if staging is not None:
                C_s = T.alloc_shared((bm, bn), staging)
                T.copy(C_f, C_s)
                T.copy(C_s, C[by * bm, bx * bn])
            elif store_rows is not None:
                T.copy(C_f[0:store_rows, :], C[by * bm:by * bm + store_rows, bx * bn:(bx + 1) * bn])
            else:
                T.copy(C_f, C[by * bm, bx * bn])
            if extra == "global_store":
                C[by * bm, bx * bn] = T.Cast(out, 0.0)

    return gemm


GEMM_BASES = {  # forms the GEMM matcher accepts
    "f16": dict(),
    "bf16_tb_swz": dict(dtype="bfloat16", out="bfloat16", transpose_B=True, swizzle=True),
    "f16_epi_f32_staged": dict(out="float32", epilogue="bias_relu", staging="float32", bm=64, threads=128),
    "f16_ragged": dict(M=200, N=136, K=328, bm=64, bn=128, threads=128),
    "bf16_f32out_rowidx": dict(dtype="bfloat16", out="float32", epilogue="row_index", bn=64),
    "fp8": dict(dtype="float8_e4m3fn", b_dtype="float8_e5m2", out="bfloat16", transpose_B=True, bk=128),
    "f16_splitk": dict(M=64, N=256, K=1024, bm=64, threads=128),
}

# perturbation -> (knob changes, expected decision); None in "expect" means: decided by the base (see _gemm_case)
GEMM_PERTURBATIONS = {
    # the same function: the matcher may accept
    "block_K_32": (dict(bk=32), ACCEPT),
    "block_K_128": (dict(bk=128), ACCEPT),
    "stages_2": (dict(stages=2), ACCEPT),
    "stages_5": (dict(stages=5), ACCEPT),
    "swizzle": (dict(swizzle=True), ACCEPT),
    "staged_same_dtype": (dict(staging="out"), ACCEPT),
    "staged_float32": (dict(staging="float32"), ACCEPT),
    # a flag
    "clear_accum": (dict(clear_accum=True), REFUSE),
    "transpose_B_flip": (dict(transpose_B="flip"), ACCEPT),  # B's shape flips too: another well-formed GEMM
    # a region
    "gemm_half_rows": (dict(gemm_rows="half"), REFUSE),
    "store_half_rows": (dict(store_rows="half"), REFUSE),
    "copy_a_half_rows": (dict(a_rows="half"), REFUSE),
    "a_origin_shift": (dict(a_row0=8), REFUSE),
    "b_origin_shift": (dict(b_k0=16), REFUSE),
    # a bound or grid extent
    "grid_n_half": (dict(grid_n="-half"), REFUSE),
    "grid_m_minus1": (dict(grid_m=-1), REFUSE),
    "grid_n_plus1": (dict(grid_n=1), REFUSE),
    "k_loop_minus1": (dict(k_delta=-1), REFUSE),
    "k_loop_plus1": (dict(k_delta=1), REFUSE),
    # a dtype
    "a_tile_other_16bit": (dict(a_tile="other16"), REFUSE),
    "b_tile_other_16bit": (dict(b_tile="other16"), REFUSE),
    "staged_float16": (dict(staging="float16"), "staging"),
    "staged_bfloat16": (dict(staging="bfloat16"), "staging"),
    "acc_float16": (dict(acc="float16"), REFUSE),
    # a value
    "fill_one": (dict(fill=1.0), REFUSE),
    "no_clear": (dict(clear=False), REFUSE),
    # an extra statement
    "scalar_store_after_loop": (dict(extra="scalar_store"), REFUSE),
    "store_in_loop": (dict(extra="store_in_loop"), REFUSE),
    "refill_after_loop": (dict(extra="refill"), REFUSE),
    "global_store_after": (dict(extra="global_store"), REFUSE),
    "epilogue_neighbour": (dict(epilogue="neighbour"), REFUSE),
    "epilogue_partial": (dict(epilogue="partial"), REFUSE),
}


def _other16(dtype):
    return {"float16": "bfloat16", "bfloat16": "float16"}.get(dtype, "float16")


def _gemm_spec(base: dict, change: dict) -> dict | None:
    """The knobs of ``base`` with ``change`` applied, or None when the change does not apply to the base."""
    spec = dict(base)
    bm, dtype = spec.get("bm", 128), spec.get("dtype", "float16")
    out = spec.get("out", "float16")
    for key, value in change.items():
        if value == "half":
            value = bm // 2
        elif value == "-half":
            n_tiles = -(-spec.get("N", 256) // spec.get("bn", 128))
            value = -(n_tiles - n_tiles // 2)
        elif value == "flip":
            value = not spec.get("transpose_B", False)
        elif value == "other16":
            value = _other16(dtype)
        elif value == "out":
            value = out
        spec[key] = value
    if "float8" in dtype and (change.get("bk") == 32 or "transpose_B" in change or change.get("b_k0")):
        return None  # float8 needs B as [N, K] and block_K a multiple of 32
    if "staging" in change and spec.get("staging") == spec.get("out", "float16") and base.get("staging") == out:
        return None  # no change
    if "staging" in change and base.get("staging") is not None and change["staging"] == base["staging"]:
        return None
    if "store_rows" in change and spec.get("staging") is not None:
        return None  # the builder stores through the staging tile
    if change.get("swizzle") and base.get("swizzle"):
        return None
    if -(-spec.get("M", 256) // spec.get("bm", 128)) + spec.get("grid_m", 0) < 1:
        return None  # a grid of no blocks: T.Kernel refuses the program itself
    if spec.get("epilogue") in ("neighbour", "partial") and base.get("epilogue") is not None:
        return None
    if "staging" in change and base.get("epilogue") is None and spec.get("staging") is not None and \
            spec.get("staging") != "float32" and spec["staging"] != out and "float8" in dtype:
        return None
    return spec


def _gemm_expect(expect: str, spec: dict) -> str:
    if expect != "staging":
        return expect
    out = spec.get("out", "float16")
    return ACCEPT if spec["staging"] in (out, "float32") else REFUSE


def gemm_cases() -> list[Case]:
    """Every GEMM base form and each applicable perturbation of it."""
    cases = [Case(f"gemm/{name}", "gemm", dict(spec), ACCEPT) for name, spec in GEMM_BASES.items()]
    for base_name, base in GEMM_BASES.items():
        for pert, (change, expect) in GEMM_PERTURBATIONS.items():
            spec = _gemm_spec(base, change)
            if spec is None or spec == base:
                continue
            cases.append(Case(f"gemm/{base_name}:{pert}", "gemm", spec, _gemm_expect(expect, spec)))
    return cases


# ---- flash attention ------------------------------------------------------------------------------------------

def attention_program(B=1, H=2, S=256, D=64, causal=False, groups=1, dtype="float16", bm=64, bn=64, threads=None,
                      tilelang_max=False, q_tile=None, p_dtype=None, staging="same", pre_store=None, scale2=None,
                      rsum_clear=True, acc_o_fill=0.0, s_clear_accum=False, mask="auto", bound="auto",
                      gemm_rows=None, grid_q=0, extra=None, bound_scalar=False):
    """``examples/flash_attention.py``'s program with knobs (defaults: the form the matcher accepts):
    ``pre_store`` stores to row statistics before the loop, ``scale2`` changes the exponent's scale,
    ``mask``/``bound`` pick the mask and loop bound ("auto": the ones ``causal`` needs), ``bound_scalar`` puts the
    loop bound in a local scalar first (accepted)."""
    scale = (1.0 / D) ** 0.5 * 1.44269504
    scale_exp = scale if scale2 is None else scale2
    shape, kv_shape = [B, S, H, D], [B, S, H // groups, D]
    acc = "float32"
    mask = ("causal" if causal else "bounds") if mask == "auto" else mask
    bound = ("causal" if causal else "full") if bound == "auto" else bound

    @T.prim_func
    def main(Q: T.Tensor(shape, dtype), K: T.Tensor(kv_shape, dtype), V: T.Tensor(kv_shape, dtype),
             Output: T.Tensor(shape, dtype)):
        with T.Kernel(T.ceildiv(S, bm) + grid_q, H, B, threads=threads or 2 * bm) as (bx, by, bz):
            Q_s = T.alloc_shared([bm, D], q_tile or dtype)
            K_s = T.alloc_shared([bn, D], dtype)
            V_s = T.alloc_shared([bn, D], dtype)
            acc_s = T.alloc_fragment([bm, bn], acc)
            acc_s_cast = T.alloc_fragment([bm, bn], p_dtype or dtype)
            acc_o = T.alloc_fragment([bm, D], acc)
            m = T.alloc_fragment([bm], acc)
            m_prev = T.alloc_fragment([bm], acc)
            alpha = T.alloc_fragment([bm], acc)
            rsum = T.alloc_fragment([bm], acc)
            logsum = T.alloc_fragment([bm], acc)
            T.copy(Q[bz, bx * bm:(bx + 1) * bm, by, :], Q_s)
            T.fill(acc_o, acc_o_fill)
            T.fill(logsum, 0)
            T.fill(m, -T.infinity(acc))
            if pre_store == "stats":
                logsum[0] = 1000.0
                m[0] = 0.0
            elif pre_store == "logsum":
                logsum[0] = 1000.0
            if bound_scalar:  # a local variable, as examples/flash_attention.py writes it
                loop_range = (T.min(T.ceildiv(S, bn), T.ceildiv((bx + 1) * bm, bn)) if bound == "causal"
                              else T.ceildiv(S, bn))
            else:
                loop_range = T.meta_var(T.min(T.ceildiv(S, bn), T.ceildiv((bx + 1) * bm, bn))
                                        if bound == "causal" else T.ceildiv(S, bn))
            for k in T.Pipelined(loop_range, num_stages=2):
                T.copy(K[bz, k * bn:(k + 1) * bn, by // groups, :], K_s)
                if mask == "causal":
                    for i, j in T.Parallel(bm, bn):
                        acc_s[i, j] = T.if_then_else(bx * bm + i >= k * bn + j, 0, -T.infinity(acc))
                elif mask == "bounds":
                    for i, j in T.Parallel(bm, bn):
                        acc_s[i, j] = T.if_then_else(k * bn + j >= S, -T.infinity(acc), 0)
                elif mask == "strict":
                    for i, j in T.Parallel(bm, bn):
                        acc_s[i, j] = T.if_then_else(bx * bm + i > k * bn + j, 0, -T.infinity(acc))
                if gemm_rows is None:
                    T.gemm(Q_s, K_s, acc_s, transpose_B=True, clear_accum=s_clear_accum)
                else:
                    T.gemm(Q_s[0:gemm_rows, :], K_s, acc_s[0:gemm_rows, :], transpose_B=True,
                           clear_accum=s_clear_accum)
                T.copy(m, m_prev)
                if tilelang_max:
                    T.fill(m, -T.infinity(acc))
                T.reduce_max(acc_s, m, dim=1, clear=False)
                for i in T.Parallel(bm):
                    alpha[i] = T.exp2(m_prev[i] * scale - m[i] * scale)
                for i, j in T.Parallel(bm, bn):
                    acc_s[i, j] = T.exp2(acc_s[i, j] * scale_exp - m[i] * scale_exp)
                T.reduce_sum(acc_s, rsum, dim=1, clear=rsum_clear)
                for i in T.Parallel(bm):
                    logsum[i] = logsum[i] * alpha[i] + rsum[i]
                T.copy(acc_s, acc_s_cast)
                for i, j in T.Parallel(bm, D):
                    acc_o[i, j] *= alpha[i]
                T.copy(V[bz, k * bn:(k + 1) * bn, by // groups, :], V_s)
                T.gemm(acc_s_cast, V_s, acc_o)
            for i, j in T.Parallel(bm, D):
                acc_o[i, j] /= logsum[i]
            if extra == "store_after_loop":
                acc_o[0, 0] = 0.0
            if staging is None:
                T.copy(acc_o, Output[bz, bx * bm:(bx + 1) * bm, by, :])
            else:
                O_s = T.alloc_shared([bm, D], dtype if staging == "same" else staging)
                T.copy(acc_o, O_s)
                T.copy(O_s, Output[bz, bx * bm:(bx + 1) * bm, by, :])

    return main


ATTENTION_BASES = {
    "f16": dict(),
    "f16_causal": dict(causal=True, staging=None),
    "bf16_gqa_causal_tl": dict(dtype="bfloat16", causal=True, groups=2, H=4, tilelang_max=True, bm=128, bn=128),
    "f16_d128_bm128": dict(D=128, bm=128, bn=64),
}

ATTENTION_PERTURBATIONS = {
    "tilelang_max": (dict(tilelang_max="flip"), ACCEPT),
    "direct_store": (dict(staging=None), ACCEPT),
    "bound_in_scalar": (dict(bound_scalar=True), ACCEPT),
    "pre_store_stats": (dict(pre_store="stats"), REFUSE),
    "pre_store_logsum": (dict(pre_store="logsum"), REFUSE),
    "q_tile_other_16bit": (dict(q_tile="other16"), REFUSE),
    "p_float32": (dict(p_dtype="float32"), REFUSE),
    "p_other_16bit": (dict(p_dtype="other16"), REFUSE),
    "staging_float32": (dict(staging="float32"), REFUSE),
    "exp_scale_differs": (dict(scale2=0.1), REFUSE),
    "rsum_accumulates": (dict(rsum_clear=False), REFUSE),
    "acc_o_fill_one": (dict(acc_o_fill=1.0), REFUSE),
    "score_gemm_clears": (dict(s_clear_accum=True), REFUSE),
    "strict_causal_mask": (dict(mask="strict", bound="causal"), REFUSE),
    "causal_mask_full_bound": (dict(mask="causal", bound="full"), REFUSE),
    "no_mask": (dict(mask="none"), REFUSE),
    "gemm_half_rows": (dict(gemm_rows="half"), REFUSE),
    "grid_q_minus1": (dict(grid_q=-1), REFUSE),
    "store_after_loop": (dict(extra="store_after_loop"), REFUSE),
}


def attention_cases() -> list[Case]:
    """Every attention base form and each applicable perturbation of it."""
    cases = [Case(f"attention/{name}", "attention", dict(spec), ACCEPT) for name, spec in ATTENTION_BASES.items()]
    for base_name, base in ATTENTION_BASES.items():
        for pert, (change, expect) in ATTENTION_PERTURBATIONS.items():
            spec = dict(base)
            for key, value in change.items():
                if value == "flip":
                    value = not base.get(key, False)
                elif value == "half":
                    value = base.get("bm", 64) // 2
                elif value == "other16":
                    value = _other16(base.get("dtype", "float16"))
                spec[key] = value
            if spec == base or (pert == "causal_mask_full_bound" and base.get("causal")):
                continue
            if pert == "no_mask" and base.get("causal"):
                continue  # the causal bound without a mask is refused too, but covered by the causal bases
            cases.append(Case(f"attention/{base_name}:{pert}", "attention", spec, expect))
    return cases


def all_cases() -> list[Case]:
    """Every differential case, GEMM and attention."""
    return gemm_cases() + attention_cases()


# ---- running a case -------------------------------------------------------------------------------------------

def is_output(param) -> bool:
    """The output tensor of a case's program (C for a GEMM, Output for attention)."""
    return param.name in ("C", "Output")


def make_inputs(prim, device: str, seed: int = 0) -> list:
    """Fresh random non-zero arguments for ``prim``'s tensor parameters; the output poisoned with NaN."""
    gen = torch.Generator().manual_seed(seed)
    args = []
    for p in prim.params:
        buf = p.ty
        shape = [int(s) for s in buf.shape]
        dtype = getattr(torch, str(buf.dtype))
        if is_output(p):
            args.append(torch.full(shape, float("nan"), dtype=dtype, device=device))
        else:
            x = torch.randn(shape, generator=gen)
            x = torch.where(x.abs() < 1e-3, torch.full_like(x, 1e-3), x)
            args.append(x.to(dtype).to(device))
    return args


def compare(got: torch.Tensor, want: torch.Tensor, tol, representable_in: str | None = None) -> str:
    """'' if ``got`` matches ``want`` (NaN where ``want`` is NaN: elements the program never writes), else why."""
    got, want = got.double().cpu(), want.double().cpu()
    nan_got, nan_want = torch.isnan(got), torch.isnan(want)
    if not torch.equal(nan_got, nan_want):
        return (f"{int((nan_got != nan_want).sum())} elements differ in being written (NaN in one output "
                f"only) of {got.numel()}")
    ok = ~nan_want
    if representable_in is not None:  # the program rounds its result to this dtype before the output
        narrow = got[ok].to(getattr(torch, representable_in)).double()
        if not torch.equal(narrow, got[ok]):
            wrong = int((narrow != got[ok]).sum())
            return f"{wrong} elements are not rounded to {representable_in} (the program rounds them)"
    diff = (got - want).abs()
    bad = (diff > tol) & ok
    if bad.any():
        return f"{int(bad.sum())} of {int(ok.sum())} elements differ, by up to {float(diff[ok].max()):.4g}"
    return ""


def case_by_name(name: str) -> Case:
    """The case called ``name``."""
    for case in all_cases():
        if case.name == name:
            return case
    raise KeyError(name)


def sample_cases() -> list[Case]:
    """A fixed sample for CI: every base form, and every perturbation on the first base form it applies to."""
    seen, out = set(), []
    for case in all_cases():
        pert = case.name.split(":")[1] if ":" in case.name else None
        key = (case.kind, pert)
        if pert is None or key not in seen:
            seen.add(key)
            out.append(case)
    return out


def matcher_accepts(case: Case) -> tuple[bool, str]:
    """(whether the Hopper matcher of the case's kind accepts its program, the refusal reason)."""
    from tiledsl.passes.hopper import attention_match, gemm_match

    prim = case.program()
    if case.kind == "gemm":
        return gemm_match.match_gemm(prim) is not None, gemm_match.last_reason
    return attention_match.match_attention(prim) is not None, attention_match.last_reason


SM90A = {"kind": "cuda", "arch": "sm_90a"}


def build_case(name: str) -> dict:
    """Build case ``name`` for sm_90a and for the CPU (into the kernel cache); {target: '' or the error}. Run in
    worker processes by the GPU test, so every build is done once, in parallel."""
    import tiledsl

    prim = case_by_name(name).program()
    out = {}
    for label, target in (("gpu", SM90A), ("cpu", "llvm")):
        try:
            tiledsl.compile(prim, target=target)
            out[label] = ""
        except Exception as err:  # a generic-path limitation on a refused program: reported, not compared
            out[label] = f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"
    return out


def gemm_reference(spec: dict, args: list) -> torch.Tensor | None:
    """What an accepted GEMM form computes, in float64 (None when the spec is not one of the accepted forms)."""
    a, b, bias = args[0].double().cpu(), args[1].double().cpu(), args[2].double().cpu()
    ref = a @ (b.T if spec.get("transpose_B") else b)
    epilogue = spec.get("epilogue")
    if epilogue == "bias_relu":
        ref = torch.relu(ref + bias)
    elif epilogue == "row_index":
        rows = torch.arange(ref.shape[0], dtype=torch.float64)[:, None]
        ref = ref * 0.5 + bias + rows * 0.25
    elif epilogue is not None:
        return None
    return ref


def attention_reference(spec: dict, q, k, v) -> torch.Tensor:
    """Softmax attention in float64 (grouped-query: each K/V head serves H // H_kv query heads)."""
    import math

    groups = q.shape[2] // k.shape[2]
    k, v = (x.repeat_interleave(groups, dim=2) for x in (k, v))
    q, k, v = (x.double().cpu().transpose(1, 2) for x in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if spec.get("causal"):
        s = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(s, s, dtype=torch.bool).triu(1), float("-inf"))
    return (torch.softmax(scores, -1) @ v).transpose(1, 2)


def output_tolerance(case: Case, args: list, loose: float = 1.0):
    """Element-wise tolerance between two builds of ``case`` run on ``args`` (derived from K and the dtypes for a
    GEMM: accumulation order in the accumulator's dtype plus two roundings to the coarsest 16/32-bit dtype the
    result passes through)."""
    spec = case.spec
    if case.kind == "attention":
        return 2e-2 * loose if spec.get("dtype", "float16") == "float16" else 4e-2 * loose
    rounding = [spec.get("out", "float16"), spec.get("staging") or "float32"]
    ref = gemm_reference(spec, args)
    return loose * gemm_bound(args[0].cpu(), args[1].cpu(), bool(spec.get("transpose_B")),
                              spec.get("acc", "float32"), rounding, ref)


def narrowing_dtype(case: Case) -> str | None:
    """The 16-bit dtype a GEMM program rounds its result to before a wider output (a staging tile), else None."""
    staging, out = case.spec.get("staging"), case.spec.get("out", "float16")
    if case.kind != "gemm" or staging is None:
        return None
    return staging if torch.finfo(getattr(torch, staging)).eps > torch.finfo(getattr(torch, out)).eps else None
