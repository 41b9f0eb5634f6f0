"""The runner: checks and times built candidates in a long-lived worker process per device.

The worker loads an artifact folder by path, makes inputs once (``set_autotune_inputs`` tensors, a
``supply_prog`` or ``TensorSupplyType``; reproducible from a fixed seed, so a restarted worker sees the same data),
computes the reference once (``ref_prog`` on 16-bit float inputs upcast to float32, a more precise reference; it
falls back to the original inputs if the upcast ones are refused), checks each candidate's outputs (preallocated
and NaN-poisoned) and times it with ``do_bench`` (median). A candidate that hangs is killed with its worker; one
that crashes the worker (segfault, illegal memory access) is recorded as a crash; the next candidate gets a fresh
worker. After a sticky CUDA error (the context is poisoned) the worker is replaced too.
"""
from __future__ import annotations

import logging
import re
import statistics

from . import records
from .transport import unpack_inputs
from .worker import START_TIMEOUT, Worker, WorkerFailure

logger = logging.getLogger(__name__)

_ESTIMATE_REPS = 5
_STICKY_CUDA = re.compile(r"illegal memory access|misaligned address|unspecified launch failure|illegal "
                          r"instruction|device-side assert|an illegal|CUDA error|cudaError", re.IGNORECASE)
_RESOURCE = re.compile(r"too many resources|out of resources|shared memory|invalid configuration argument|"
                       r"too many threads|registers|out of memory", re.IGNORECASE)


class RunHandler:
    """Runs in the runner worker process."""

    def __init__(self, payload: dict):
        import torch

        self.torch = torch
        self.p = payload
        self.device = torch.device(payload["device"])
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self._inputs = None  # (signature, inputs, expected)
        self._finish: list = []  # restore_value: put the tensors back after a candidate's last launch
        from ..profiler import bind, do_bench
        from ..runtime.kernel import JITKernel

        self.bind, self.do_bench, self.JITKernel = bind, do_bench, JITKernel

    # ------------------------------------------------------------------ requests
    def handle(self, request: dict) -> dict:
        op = request["op"]
        if op == "prepare":
            kernel = self.JITKernel.load(request["artifact"])
            self._prepare(kernel, force=True)
            return {"status": "ready"}
        if op == "bench":
            try:
                return self._bench(request["artifact"], request.get("cutoff_ms"))
            finally:
                self._finish_launches()
        if op == "retime":
            try:
                return self._retime(request["artifacts"], request["rounds"])
            finally:
                self._finish_launches()
        if op == "ref_latency":
            return self._ref_latency()
        raise ValueError(f"unknown runner request {op!r}")

    def _sync(self):
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)

    def _prepare(self, kernel, force: bool = False):
        from ..profiler import make_inputs

        sig = [(p.name, p.dtype, p.shape) for p in kernel.input_params]
        if self._inputs is not None and self._inputs[0] == sig and (self.p["cache_input_tensors"] or not force):
            if not self.p["cache_input_tensors"] and self.p["supply_prog"] is None and self.p["inputs"] is None:
                # the seeded supply makes the same values again: refresh the tensors, keep the reference
                inputs = make_inputs(kernel.input_params, self.p["supply_type"], self.device, seed=0)
                self._inputs = (sig, inputs, self._inputs[2])
            return self._inputs
        if self.p["inputs"] is not None:
            inputs = unpack_inputs(self.p["inputs"], self.device)
            if len(inputs) != len(sig):
                names = ", ".join(p.name for p in kernel.input_params)
                raise ValueError(f"set_autotune_inputs gave {len(inputs)} tensors but the kernel takes "
                                 f"{len(sig)} inputs ({names})")
        elif self.p["supply_prog"] is not None:
            inputs = list(self.p["supply_prog"](kernel.input_params))
        else:
            inputs = make_inputs(kernel.input_params, self.p["supply_type"], self.device, seed=0)
        expected = self._reference(kernel, inputs)
        self._inputs = (sig, inputs, expected)
        return self._inputs

    def _reference(self, kernel, inputs):
        ref = self.p["ref_prog"]
        if ref is None or self.p["skip_check"]:
            return None
        from .checker import as_list

        torch = self.torch
        wide = [t.float() if isinstance(t, torch.Tensor) and t.dtype in (torch.float16, torch.bfloat16) else t
                for t in inputs]
        clones = [t.clone() if isinstance(t, torch.Tensor) else t for t in wide]
        try:
            out = ref(*clones)
        except Exception:
            clones = [t.clone() if isinstance(t, torch.Tensor) else t for t in inputs]
            out = ref(*clones)
        self._sync()
        if not kernel.out_idx:  # an in-place kernel: compare the tensors ref_prog wrote
            n = len(as_list(out)) if out is not None else 1
            out = clones[-n:] if out is None else out
        return [t.detach() for t in as_list(out)]

    def _launch(self, kernel, inputs):
        from . import side_effects

        if kernel.out_idx:
            run, outs = self.bind(kernel, inputs)
            tensors = side_effects.named_tensors(kernel, inputs, outs)
        else:
            outs = work = [t.clone() if isinstance(t, self.torch.Tensor) else t for t in inputs]
            tensors = side_effects.named_tensors(kernel, work, None)

            def run():
                kernel(*work)
        # reset_to_zero / restore_value: zero or restore tensors before each launch; _finish restores at the end
        run, finish = side_effects.wrap(kernel, run, tensors, self.p.get("reset_to_zero"),
                                        self.p.get("restore_value"))
        self._finish.append(finish)
        return run, outs

    def _finish_launches(self):
        while self._finish:
            self._finish.pop()()

    def _bench(self, artifact: str, cutoff_ms: float | None = None) -> dict:
        from .checker import compare, manual_check

        kernel = self.JITKernel.load(artifact)
        sig, inputs, expected = self._prepare(kernel)
        try:
            run, outs = self._launch(kernel, inputs)
            if expected is not None:
                run()
                self._sync()
                got = outs if kernel.out_idx else outs[-len(expected):]
                if self.p["manual_check_prog"] is not None:
                    why = manual_check(self.p["manual_check_prog"], got if len(got) != 1 else got[0],
                                       expected if len(expected) != 1 else expected[0])
                else:
                    why = compare(got, expected, self.p["rtol"], self.p["atol"], self.p["max_mismatched_ratio"])
                if why:
                    return {"status": records.WRONG_RESULT, "reason": why}
            if cutoff_ms is not None and self.p["rep"] > 2 * _ESTIMATE_REPS:
                # a quick estimate first: a candidate far slower than the best so far is not worth rep iterations
                estimate = self.do_bench(run, 1, _ESTIMATE_REPS, device=self.device, backend=self.p["backend"])
                if estimate > cutoff_ms:
                    return {"status": records.OK, "latency": float(estimate), "early_stopped": True}
            latency = self.do_bench(run, self.p["warmup"], self.p["rep"], device=self.device,
                                    backend=self.p["backend"])
        except Exception as err:
            return self._failure(err)
        return {"status": records.OK, "latency": float(latency)}

    def _failure(self, err) -> dict:
        text = f"{type(err).__name__}: {err}".strip()
        first = text.splitlines()[0][:600] if text else type(err).__name__
        sticky = self.device.type == "cuda" and bool(_STICKY_CUDA.search(text))
        status = records.RESOURCE_ERROR if _RESOURCE.search(text) else (
            records.CRASH if sticky else records.RUN_ERROR)
        return {"status": status, "reason": first, "restart": sticky}

    def _retime(self, artifacts: list[str], rounds: int) -> dict:
        runs = []
        for a in artifacts:
            kernel = self.JITKernel.load(a)
            _, inputs, _ = self._prepare(kernel)
            runs.append(self._launch(kernel, inputs)[0])
        samples = [[] for _ in runs]
        warm = max(1, self.p["warmup"] // 5)
        for _ in range(rounds):  # interleaved, so drift (load, clocks, temperature) hits every finalist alike
            for i, run in enumerate(runs):
                samples[i].append(self.do_bench(run, warm, self.p["rep"], device=self.device,
                                                backend=self.p["backend"]))
        return {"status": "ok", "latencies": [float(statistics.median(s)) for s in samples]}

    def _ref_latency(self) -> dict:
        if self.p["ref_prog"] is None or self._inputs is None:
            return {"status": "ok", "latency": None}
        inputs = self._inputs[1]
        ref = self.p["ref_prog"]
        latency = self.do_bench(lambda: ref(*inputs), self.p["warmup"], self.p["rep"], device=self.device,
                                backend=self.p["backend"])
        return {"status": "ok", "latency": float(latency)}


class Runner:
    """The parent's handle on one device's benchmark worker."""

    def __init__(self, payload: dict, timeout: float):
        self.timeout = timeout
        self.device = payload["device"]
        self.worker = Worker("runner", payload, name=f"runner-{self.device.replace(':', '')}")
        self.worker.start()
        self._prepared = False
        self.restarts = 0

    def _ensure_prepared(self, artifact: str) -> None:
        if self._prepared:
            return
        reply = self.worker.call({"op": "prepare", "artifact": artifact}, START_TIMEOUT)
        if reply.get("status") == "error":
            from ..errors import ConfigError

            raise ConfigError(f"preparing the tuning inputs failed: {reply.get('reason')} (check supply_prog, "
                              f"ref_prog and set_autotune_inputs)")
        self._prepared = True

    def _prepare_with_retry(self, artifact: str) -> str | None:
        """Start the worker and make the inputs, on a fresh worker once more if that fails; None when ready, else
        why not (the worker's failure, not the candidate's: the candidate has not run yet)."""
        reason = None
        for _ in range(2):
            try:
                self._ensure_prepared(artifact)
                return None
            except WorkerFailure as err:
                reason = err.reason
                self.worker.kill()
                self._lost()
        return reason

    def bench(self, artifact: str, cutoff_ms: float | None = None) -> dict:
        """Check and time one candidate; returns ``{"status", "latency"|"reason"}``. A candidate whose quick
        estimate exceeds ``cutoff_ms`` is not timed further (``early_stopped``)."""
        why = self._prepare_with_retry(artifact)
        if why is not None:
            return {"status": records.INFRA_ERROR, "reason": f"the benchmark worker could not start or make the "
                                                             f"inputs (twice): {why}"}
        try:
            reply = self.worker.call({"op": "bench", "artifact": artifact, "cutoff_ms": cutoff_ms}, self.timeout)
        except WorkerFailure as err:
            self._lost()
            status = records.RUN_TIMEOUT if err.kind == "timeout" else records.CRASH
            return {"status": status, "reason": f"running: {err.reason}"}
        if reply.get("restart"):
            self.worker.kill()
            self._lost()
        if reply.get("status") == "error":
            return {"status": records.RUN_ERROR, "reason": reply.get("reason")}
        return reply

    def retime(self, artifacts: list[str], rounds: int) -> list[float] | None:
        """Interleaved re-timing of the finalists (None if it failed; the first timings then stand)."""
        if not artifacts:
            return []
        try:
            self._ensure_prepared(artifacts[0])
            reply = self.worker.call({"op": "retime", "artifacts": artifacts, "rounds": rounds},
                                     self.timeout * len(artifacts) * rounds + 30)
        except WorkerFailure as err:
            self._lost()
            logger.warning("re-timing the finalists failed (%s); keeping their first timings", err.reason)
            return None
        if reply.get("status") != "ok":
            logger.warning("re-timing the finalists failed (%s); keeping their first timings", reply.get("reason"))
            return None
        return reply["latencies"]

    def ref_latency(self, artifact: str) -> float | None:
        """The reference program's latency on the tuning inputs (None without a ref_prog)."""
        try:
            self._ensure_prepared(artifact)
            reply = self.worker.call({"op": "ref_latency"}, self.timeout + 30)
        except WorkerFailure:
            self._lost()
            return None
        return reply.get("latency") if reply.get("status") == "ok" else None

    def _lost(self):
        self._prepared = False
        self.restarts += 1

    def close(self) -> None:
        self.worker.close()
