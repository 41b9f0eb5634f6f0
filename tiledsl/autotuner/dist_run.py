"""A tuning run done together by the ranks of a process group (``autotune_pg``); see docs/distributed.md.

Every rank runs :class:`DistributedRun` for the same key, in the same order. The steps, each ending at an
agreement point of a :class:`~tiledsl.autotuner.distributed.TuneSession` (bounded waits, a dead rank stops all):

1. **plan**: each rank materializes and prunes the configs and computes the key; the ranks compare what they
   tune (key, configs, settings, inputs: any difference is an error on every rank, naming it) and whether their
   cache already holds the result. All hit: done. Some hit: the first hit's config is adopted, no tuning.
2. **measure**: each rank builds, checks and times its share of the candidates (``split=True``: every world-th
   one; ``split=False``: all, for kernels whose speed differs per rank), on its own devices; the trials are
   merged: a candidate that failed on any rank failed on all, and its time is the maximum over the ranks.
3. **pick**: the ``top_k`` fastest are built where missing (a rank sharing the measuring rank's kernel cache
   folder loads its build) and re-timed on every rank; the maximum over the ranks
   of each finalist's re-timed median decides, so every rank picks the same config.
4. **store**: one rank per cache folder (per host and ``TILEDSL_CACHE_DIR``) writes the result; the others wait
   for it and read it. With the tuning cache off, every rank keeps its own copy in memory.

Trial logs are not used across ranks (no resume of a killed distributed run: torchrun restarts all ranks anyway).
"""
from __future__ import annotations

import logging
import math
import socket
import threading
import time
from pathlib import Path

from .. import config as env
from ..errors import AutotuneError, ConfigError
from . import records, space
from .builder import Builder, worker_count
from .distributed import TuneSession, describe_mismatch
from .records import Trial
from .result import AutotuneResult
from .runner import Runner
from .tuner import AutoTuner, _Run
from .worker import START_TIMEOUT

logger = logging.getLogger(__name__)


class DistributedRun(_Run):
    """``_Run`` with the steps of the module doc between the ranks of ``group``."""

    def __init__(self, *args, group, split: bool = True, sync_timeout: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.group, self.split, self.sync_timeout = group, bool(split), sync_timeout
        self.log = None  # per-rank resume would let the ranks' pending lists differ

    def execute(self) -> AutotuneResult:
        with TuneSession(self.group, f"tuning {self.t.name}", self.sync_timeout) as session:
            self.session = session
            try:
                result = self._together(session)
            finally:
                for r in getattr(self, "_runners", []):
                    r.close()
                if self.scratch is not None:
                    import shutil
                    shutil.rmtree(self.scratch, ignore_errors=True)
        with AutoTuner._memory_lock:
            AutoTuner._memory[self.key] = result
        return result

    # ------------------------------------------------------------------ the steps
    def _together(self, s: TuneSession) -> AutotuneResult:
        self.start = time.perf_counter()
        hit = None if self.force else self.t._cached(self.key, self.use_disk)
        pending = self._plan()
        infos = s.exchange(self._describe(pending, hit), "comparing what each rank tunes")
        for r, info in enumerate(infos[1:], start=1):
            if info["what"] != infos[0]["what"]:
                raise ConfigError(describe_mismatch(infos[s.rank]["what"], infos[0]["what"], s.rank, 0)
                                  if s.rank != 0 else describe_mismatch(info["what"], infos[0]["what"], r, 0))
        self._writer = self._writer_rank(infos, s.rank)
        mine = (infos[s.rank]["host"], infos[s.rank]["cache"])
        # ranks whose kernel cache is this rank's folder: their built candidates load here as they are
        self._shared = {r for r, i in enumerate(infos) if (i["host"], i["cache"]) == mine} if (
            mine[1] is not None and not env.disk_cache_disabled()) else {s.rank}
        local = sum(1 for i in infos if i["host"] == infos[s.rank]["host"])
        if self.num_workers is None and local > 1:  # the ranks of one host share its CPUs for compiling
            self.num_workers = max(1, worker_count(1 << 20) // local)
        hits = [i["hit"] for i in infos]
        if hit is not None and all(h is not None for h in hits):
            s.exchange(None, "storing the result")
            return hit
        adopted = next((h for h in hits if h is not None), None)
        if adopted is not None:  # another rank's cache has it: use its pick, tune nothing
            logger.info("%s: using the config found in rank %d's tuning cache: %s", self.t.name,
                        hits.index(adopted), adopted["config"])
            return self._store_together(s, adopted["config"], adopted["trials"], adopted["ref_latency"], hit)
        self._runners = [Runner(self._runner_payload(d), self.prof.timeout) for d in self.devices]
        merged = self._measure(s, pending)
        winner = self._pick_together(s, merged)
        ref = None
        if self.prof.ref_prog is not None and s.rank == self._writer.get(s.rank):
            ref = self._runners[0].ref_latency(winner.artifact)
        trials = [merged[space.config_id(c)].to_json() for c in self.configs]
        result = self._store_together(s, winner.config, trials, ref, None, winner)
        self.phases["stored_s"] = time.perf_counter() - self.start
        if not result.phases:
            result.phases = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.phases.items()}
        self._log_summary(result, time.perf_counter() - self.start)
        return result

    def _describe(self, pending: list[dict], hit) -> dict:
        p = self.family_payload
        what = {"key": self.key, "factory": p["factory"], "args": p["args"], "compile": p["compile"],
                "profile": p["profile"], "inputs": p["inputs"], "env": p["env"],
                "configs": [space.config_id(c) for c in self.configs],
                "to_tune": [space.config_id(c) for c in pending], "split": self.split}
        return {"what": what, "host": socket.gethostname(), "cache": str(env.cache_dir()) if self.use_disk else None,
                "hit": None if hit is None else {"config": hit.config, "ref_latency": hit.ref_latency,
                                                 "trials": [t.to_json() for t in hit.trials]}}

    @staticmethod
    def _writer_rank(infos: list[dict], me: int) -> dict:
        """rank -> the rank that writes the cache entry it reads (the lowest rank sharing its host and cache
        folder); a rank without a disk cache writes nothing and keeps its own result."""
        first: dict = {}
        out = {}
        for r, info in enumerate(infos):
            if info["cache"] is None:
                out[r] = r
                continue
            out[r] = first.setdefault((info["host"], info["cache"]), r)
        return out

    def _measure(self, s: TuneSession, pending: list[dict]) -> dict[str, Trial]:
        share = pending[s.rank::s.world] if self.split else pending
        if share:
            self._build_and_bench(share, self._runners)
        self.phases["all_benchmarked_s"] = time.perf_counter() - self.start
        mine = [self.trials[space.config_id(c)].to_json() for c in share]
        n = math.ceil(len(pending) / s.world) if self.split else len(pending)
        every = s.exchange(mine, "measuring the candidates", timeout=START_TIMEOUT + 2 * self.prof.timeout * n)
        by_config: dict[str, list[tuple[int, Trial]]] = {}
        for r, trials in enumerate(every):
            for data in trials:
                t = Trial.from_json(data)
                by_config.setdefault(space.config_id(t.config), []).append((r, t))
        merged = {cid: t for cid, t in self.trials.items() if t.status == records.PRUNED}
        for cfg in pending:
            cid = space.config_id(cfg)
            merged[cid] = self._merge(cfg, by_config.get(cid, []), s.rank)
        return merged

    def _merge(self, cfg: dict, per_rank: list[tuple[int, Trial]], me: int) -> Trial:
        """One trial from each measuring rank's: failed if any failed, else the slowest time."""
        if not per_rank:
            return Trial(cfg, records.RUN_ERROR, reason="no rank measured it")
        for r, t in per_rank:
            if not t.ok:
                return Trial(cfg, t.status, reason=f"on rank {r}: {t.reason}", device=f"rank{r}:{t.device}")
        r, slowest = max(per_rank, key=lambda rt: rt[1].latency)
        usable = [t.artifact for q, t in sorted(per_rank, key=lambda rt: rt[0] != me) if q in self._shared
                  and t.artifact and Path(t.artifact, "kernel.so").is_file()]
        return Trial(cfg, records.OK, latency=slowest.latency, compile_seconds=slowest.compile_seconds,
                     artifact=usable[0] if usable else None, device=f"rank{r}:{slowest.device}",
                     early_stopped=any(t.early_stopped for _, t in per_rank))

    def _pick_together(self, s: TuneSession, merged: dict[str, Trial]) -> Trial:
        ok = sorted((t for t in merged.values() if t.ok), key=lambda t: t.latency)
        if not ok:
            self.trials = merged
            raise AutotuneError(self._failure_message())
        finalists = [t for t in ok if not t.early_stopped][: max(1, self.prof.top_k)] or ok[:1]
        failed = self._ensure_artifacts(finalists)
        usable = [t for t in finalists if space.config_id(t.config) not in failed]
        latencies = None
        if len(usable) > 1 and self.prof.retime_rounds > 0:
            latencies = self._runners[0].retime([t.artifact for t in usable], self.prof.retime_rounds)
        mine = {"failed": failed, "retimed": None if latencies is None else
                dict(zip([space.config_id(t.config) for t in usable], latencies))}
        n = len(finalists)
        every = s.exchange(mine, "re-timing the finalists", timeout=START_TIMEOUT + self.prof.timeout * n * (
            1 + self.prof.retime_rounds) + 30)
        for r, theirs in enumerate(every):
            for cid, why in theirs["failed"].items():
                t = merged[cid]
                merged[cid] = Trial(t.config, records.BUILD_ERROR, reason=f"on rank {r}: {why}", device=t.device)
        alive = [t for t in finalists if merged[space.config_id(t.config)].ok]
        if not alive:
            self.trials = merged
            raise AutotuneError(self._failure_message())
        if all(e["retimed"] is not None for e in every) and len(alive) > 1:
            for t in alive:
                cid = space.config_id(t.config)
                values = [e["retimed"].get(cid) for e in every]
                if all(v is not None for v in values):
                    t.retimed_latency = max(values)
        self.trials = merged
        self.phases["retimed_s"] = time.perf_counter() - self.start
        return min(alive, key=lambda t: t.best_latency)

    def _ensure_artifacts(self, trials: list[Trial]) -> dict[str, str]:
        """Build the configs of ``trials`` that this rank has no artifact for; returns {config id: why} for
        those that failed to build here."""
        need = [t for t in trials if not t.artifact]
        if not need:
            return {}
        outcomes: dict[str, dict] = {}
        cond = threading.Condition()

        def on_done(cfg, outcome):
            with cond:
                outcomes[space.config_id(cfg)] = outcome
                cond.notify()

        scratch = self.scratch if self.scratch is not None else self._scratch()
        n = worker_count(len(need), self.num_workers)
        builder = Builder(self._builder_payload(), n, self.prof.timeout, on_done, self._prepare, scratch=scratch)
        try:
            for t in need:
                builder.submit(t.config)
            with cond:
                cond.wait_for(lambda: len(outcomes) == len(need))
        finally:
            builder.close()
        failed = {}
        for t in need:
            out = outcomes[space.config_id(t.config)]
            if out.get("status") == "built":
                t.artifact = out["artifact"]
            else:
                failed[space.config_id(t.config)] = f"{out.get('status')}: {out.get('reason')}"
        return failed

    def _store_together(self, s: TuneSession, cfg: dict, trials: list[dict], ref_latency, hit,
                        winner: Trial | None = None) -> AutotuneResult:
        """Step 4: writers store, the others wait and read; every rank ends with the same config."""
        cid = space.config_id(cfg)
        writes = self._writer[s.rank] == s.rank
        result = hit
        if hit is None and writes:
            self.trials = {space.config_id(t["config"]): Trial.from_json(t) for t in trials}
            if winner is None:
                winner = self.trials[cid]
                winner.artifact = None
            self.trials[cid] = winner
            failed = self._ensure_artifacts([winner])
            if failed:
                raise AutotuneError(f"tuning {self.t.name}: the agreed config {cfg} failed to build on rank "
                                    f"{s.rank}: {failed[cid]}")
            result = self._store(winner, ref_latency)
        s.exchange(None, "storing the result", timeout=START_TIMEOUT + 2 * self.prof.timeout)
        if result is None:
            result = self.t._cached(self.key, True)
            if result is None or space.config_id(result.config) != cid:
                raise AutotuneError(f"tuning {self.t.name}: rank {self._writer[s.rank]} wrote the result for "
                                    f"this host but rank {s.rank} cannot read it from {env.cache_dir()} (is "
                                    f"TILEDSL_CACHE_DIR the same folder for both?)")
        elif space.config_id(result.config) != cid:  # a stale entry of this rank's cache: the ranks' pick wins
            raise AutotuneError(f"tuning {self.t.name}: this rank's cache holds {result.config} but the ranks "
                                f"agreed on {cfg}; remove the entry {result.key} or set "
                                f"TILEDSL_AUTO_TUNING_FORCE_RETUNE=1")
        return result
