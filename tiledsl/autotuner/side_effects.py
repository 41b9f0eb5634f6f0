"""Kernels with side effects on their tensors, while they are checked and timed (``reset_to_zero`` /
``restore_value``, as in Triton).

A kernel that accumulates into a tensor (atomics, split-K into its output) needs it zeroed before each launch; one
that updates a tensor in place needs it back at its first value. Without that, the repetitions of a benchmark see
each other's results, the check compares a tensor that was accumulated many times, and the next candidate (sharing
cached inputs) starts from corrupted values. ``wrap`` returns a launch that zeroes / restores the named tensors
first (the cost is part of every candidate's time alike, as in Triton), and a ``finish`` that restores the
``restore_value`` tensors after the last launch, so the inputs are clean for the next candidate.
"""
from __future__ import annotations


def named_tensors(kernel, inputs: list, outputs: list | None) -> dict:
    """Kernel parameter name -> the tensor a launch uses (inputs in input order, outputs in output order)."""
    out = {p.name: t for p, t in zip(kernel.input_params, inputs)}
    if outputs is not None and kernel.out_idx:
        out.update({p.name: t for p, t in zip(kernel.output_params, outputs)})
    return out


def wrap(kernel, run, tensors: dict, reset_to_zero, restore_value):
    """``(run', finish)``: ``run'`` zeroes ``reset_to_zero`` and restores ``restore_value`` tensors, then runs."""
    reset_to_zero, restore_value = list(reset_to_zero or ()), list(restore_value or ())
    if not reset_to_zero and not restore_value:
        return run, _nothing
    names = ", ".join(p.name for p in kernel.params)
    for what, wanted in (("reset_to_zero", reset_to_zero), ("restore_value", restore_value)):
        for name in wanted:
            t = tensors.get(name)
            if t is None or not hasattr(t, "zero_"):
                raise ValueError(f"{what} names {name!r}, which is not a tensor parameter of the kernel ({names})")
    zero = [tensors[n] for n in reset_to_zero]
    saved = [(tensors[n], tensors[n].clone()) for n in restore_value]

    def restore():
        for t, first in saved:
            t.copy_(first)

    def run_with_side_effects():
        for t in zero:
            t.zero_()
        restore()
        run()

    return run_with_side_effects, restore


def _nothing():
    return None
