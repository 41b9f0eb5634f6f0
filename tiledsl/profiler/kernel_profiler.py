"""``kernel.get_profiler()``: TileLang's way to check a compiled kernel against a reference and time it.

The profiler makes the kernel's inputs once (``TensorSupplyType``, seeded) on the kernel's device; the outputs a
run writes are poisoned first (NaN), so a kernel that skips part of its output cannot pass.
"""
from __future__ import annotations

import torch

from ..autotuner.checker import as_list, compare
from .bench import do_bench
from .launch import bind
from .supply import TensorSupplyType, coerce_supply_type, make_inputs


class Profiler:
    """Checks and times one JITKernel on generated inputs."""

    def __init__(self, kernel, supply_type=TensorSupplyType.Auto, seed: int = 0):
        self.kernel = kernel
        self.supply_type = coerce_supply_type(supply_type)
        self.device = "cuda" if kernel.target_kind == "cuda" else "cpu"
        self._inputs = make_inputs(kernel.input_params, self.supply_type, self.device, seed=seed)

    @property
    def inputs(self) -> list:
        """The generated inputs (the kernel's parameters not named by ``out_idx``)."""
        return self._inputs

    @property
    def func(self):
        """The kernel itself (TileLang programs call ``profiler.func(*tensors)``)."""
        return self.kernel

    def __call__(self, *args):
        """Run the kernel on these tensors."""
        return self.kernel(*args)

    def _copies(self) -> list:
        """The inputs with every tensor cloned (for in-place kernels and references that may write)."""
        return [t.clone() if isinstance(t, torch.Tensor) else t for t in self._inputs]

    def run_once(self, func=None):
        """One run of the kernel (or of ``func``) on the inputs; the outputs."""
        if func is not None:
            return func(*self._inputs)
        if not self.kernel.out_idx:  # in place: run on copies, return what the kernel wrote
            work = self._copies()
            self.kernel(*work)
            return work
        run, outputs = bind(self.kernel, self._inputs)
        run()
        return outputs[0] if len(outputs) == 1 else outputs

    def assert_allclose(self, reference_program, rtol: float = 1e-2, atol: float = 1e-2,
                        max_mismatched_ratio: float = 0.01) -> None:
        """Raise AssertionError unless the kernel's outputs match ``reference_program(*inputs)`` within
        ``|out - ref| <= atol + rtol * |ref|`` on all but ``max_mismatched_ratio`` of the elements."""
        outputs = as_list(self.run_once())
        expected = as_list(reference_program(*self._copies()))
        if not self.kernel.out_idx:  # in place: the last tensors are the outputs
            outputs = outputs[-len(expected):]
        reason = compare(outputs, expected, rtol, atol, max_mismatched_ratio)
        if reason is not None:
            raise AssertionError(f"{self.kernel.entry}: {reason}")

    def do_bench(self, func=None, warmup: int = 25, rep: int = 100, backend: str = "auto",
                 return_mode: str = "median", **ignored) -> float:
        """Milliseconds per run of the kernel (outputs preallocated), or of ``func(*inputs)``; ``warmup`` and
        ``rep`` are iteration counts, as everywhere in tiledsl."""
        if func is None:
            if self.kernel.out_idx:
                run, _ = bind(self.kernel, self._inputs)
            else:
                work = self._copies()
                run = lambda: self.kernel(*work)  # noqa: E731
        else:
            run = lambda: func(*self._inputs)  # noqa: E731
        return do_bench(run, warmup, rep, backend=backend, device=self.device, return_mode=return_mode)
