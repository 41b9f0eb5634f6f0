"""Correctness checks of a candidate's outputs against a reference.

``ref_prog(*inputs)`` gives the expected outputs (a tensor or a sequence). ``manual_check_prog(outputs, expected)``
replaces the comparison (it raises, or returns False, to reject). Otherwise outputs are compared in float64 (CPU) or
float32 (GPU) with ``|out - ref| <= atol + rtol * |ref|``; up to ``max_mismatched_ratio`` of the elements may
differ; a NaN or Inf where the reference is finite always counts as a mismatch. ``compare`` returns None when the
outputs pass, else the reason.
"""
from __future__ import annotations

import re

import torch

#: how ``compare`` names the elements that differ (``mismatch_fraction`` reads it back)
_DIFFERS = re.compile(r"^wrong result: output \d+ differs in (\d+) of (\d+) elements")
#: at most this fraction of differing elements in every candidate earns the failure message a hint
NEAR_MISS = 1e-3


def as_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, torch.Tensor):
        return [x]
    return list(x)


def _wide(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.float64 if t.device.type == "cpu" else torch.float32)


def compare(outputs, expected, rtol: float, atol: float, max_mismatched_ratio: float) -> str | None:
    """None when ``outputs`` match ``expected`` within the tolerances, else why not."""
    outs, refs = as_list(outputs), as_list(expected)
    if len(outs) != len(refs):
        return f"the kernel returns {len(outs)} outputs but ref_prog returns {len(refs)}"
    for i, (o, r) in enumerate(zip(outs, refs)):
        if not isinstance(r, torch.Tensor):
            return f"ref_prog output {i} is a {type(r).__name__}, not a tensor"
        if tuple(o.shape) != tuple(r.shape):
            return f"output {i} has shape {tuple(o.shape)} but ref_prog gives {tuple(r.shape)}"
        o64, r64 = _wide(o), _wide(r.to(o.device))
        bad = ~(torch.abs(o64 - r64) <= atol + rtol * torch.abs(r64))
        bad &= ~(torch.isnan(o64) & torch.isnan(r64))
        n_bad = int(bad.sum())
        total = max(1, o.numel())
        if n_bad / total > max_mismatched_ratio:
            idx = tuple(int(v) for v in torch.nonzero(bad)[0].tolist())
            diff = torch.nan_to_num(torch.abs(o64 - r64), nan=float("inf"))
            return (f"wrong result: output {i} differs in {n_bad} of {total} elements ({100 * n_bad / total:.2g}% > "
                    f"{100 * max_mismatched_ratio:g}% allowed, rtol={rtol:g}, atol={atol:g}); max |diff| "
                    f"{float(diff.max()):.4g}; first at {idx}: {float(o64[idx]):.6g} vs {float(r64[idx]):.6g}")
    return None


def mismatch_fraction(reason: str | None) -> float | None:
    """The fraction of an output's elements that a ``compare`` failure says differ, or None for other reasons."""
    found = _DIFFERS.match(reason or "")
    return int(found.group(1)) / max(1, int(found.group(2))) if found else None


def near_miss_hint(reasons) -> str | None:
    """A hint for a tuning whose every candidate failed the comparison in at most ``NEAR_MISS`` of the elements
    (the same arithmetic difference in every config, more often than a bug in all of them), else None."""
    fractions = [mismatch_fraction(r) for r in reasons]
    if not fractions or any(f is None or f > NEAR_MISS for f in fractions):
        return None
    return (f"every candidate differs from ref_prog in at most {100 * max(fractions):.2g}% of the elements: if that "
            "is the kernels' arithmetic rather than a bug (fp8 tensor-core GEMMs keep about 14 bits of each running "
            "sum; low-precision outputs round some ties the other way), allow it with "
            "set_profile_args(max_mismatched_ratio=...) or check with a manual_check_prog")


def manual_check(check, outputs, expected) -> str | None:
    """Run the user's ``manual_check_prog``; its exception or a False return rejects the candidate."""
    try:
        verdict = check(outputs, expected)
    except AssertionError as err:
        return f"wrong result (manual_check_prog): {err or 'assertion failed'}"
    except Exception as err:
        return f"wrong result (manual_check_prog raised {type(err).__name__}: {err})"
    if verdict is False:
        return "wrong result (manual_check_prog returned False)"
    return None
