"""``AutotuneResult``: the winner of a tuning run, every trial, and a folder format for both.

``save_to_disk(path)`` writes a readable folder, written in a staging folder and renamed into place:

    result.json    config, latency (ms), ref_latency, summary counts, format version
    best_config.json, latency.json   (TileLang's names, for people who look there)
    trials.jsonl   one line per candidate: config, status, latency or reason
    kernel/        the winner's artifact: kernel.so, kernel_source.txt, meta.json

``load_from_disk(path)`` loads the kernel from ``kernel/`` without tuning or compiling; nothing is unpickled.
The tuning cache stores its entries in exactly this format.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AutotuneError
from .records import Trial, read_trials, write_trials

FORMAT_VERSION = 1


@dataclass
class AutotuneResult:
    """The best config, its latency (ms), the reference's latency, the compiled kernel and every trial."""

    config: dict
    latency: float
    ref_latency: float | None
    kernel: object  # JITKernel
    trials: list[Trial] = field(default_factory=list)
    key: str | None = None
    from_cache: bool = False
    phases: dict = field(default_factory=dict)  # seconds from the start of tuning to each milestone

    @property
    def libcode(self) -> str:
        """The winner's device source."""
        return self.kernel.get_kernel_source()

    @property
    def func(self):
        """The winner's PrimFunc (None when the result was loaded from disk)."""
        return self.kernel.get_tir()

    def summary(self) -> dict:
        """How many candidates ended in each status."""
        return dict(Counter(t.status for t in self.trials))

    def failures(self) -> list[Trial]:
        return [t for t in self.trials if not t.ok]

    def write(self, folder: Path) -> None:
        """Write the result's files into an existing empty ``folder`` (no atomicity; see save_to_disk)."""
        folder = Path(folder)
        self.kernel.save(folder / "kernel")
        info = {"format": FORMAT_VERSION, "config": self.config, "latency": self.latency,
                "ref_latency": self.ref_latency, "key": self.key, "summary": self.summary()}
        # keys in the config's own order (the space's): a result read back prints as the tuning run printed it
        (folder / "result.json").write_text(json.dumps(info, indent=1))
        (folder / "best_config.json").write_text(json.dumps(self.config, indent=1))
        (folder / "latency.json").write_text(json.dumps({"latency": self.latency, "ref_latency": self.ref_latency}))
        write_trials(folder / "trials.jsonl", self.trials)

    def save_to_disk(self, path, verbose: bool = False) -> Path:
        """Write this result as a folder at ``path`` (replaced atomically if it exists)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            self.write(staging)
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
                os.rename(path, old / "x")
                os.rename(staging, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(staging, path)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return path

    @classmethod
    def load_from_disk(cls, path, compile_args=None) -> "AutotuneResult":
        """The result saved at ``path``; its kernel is loaded, not rebuilt (``compile_args`` is accepted for
        TileLang compatibility and unused: the folder holds everything)."""
        from ..runtime.kernel import JITKernel

        path = Path(path)
        info_file = path / "result.json"
        if not info_file.is_file() or not (path / "kernel").is_dir():
            raise AutotuneError(f"{path} holds no saved tuning result (expected result.json and kernel/ written by "
                                f"AutotuneResult.save_to_disk)")
        info = json.loads(info_file.read_text())
        if info.get("format") != FORMAT_VERSION:
            raise AutotuneError(f"{path}: result format {info.get('format')} is not {FORMAT_VERSION}; tune again")
        kernel = JITKernel.load(path / "kernel")
        kernel.latency, kernel.config, kernel.ref_latency = info["latency"], info["config"], info["ref_latency"]
        return cls(config=info["config"], latency=info["latency"], ref_latency=info["ref_latency"], kernel=kernel,
                   trials=read_trials(path / "trials.jsonl"), key=info.get("key"))

    def __repr__(self) -> str:
        return (f"AutotuneResult(config={self.config}, latency={self.latency:.4g} ms, "
                f"ref_latency={self.ref_latency}, trials={self.summary()})")
