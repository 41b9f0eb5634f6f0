"""Artifact folders: a built kernel as files (shared library, device source, JSON metadata), no pickles.

Layout: ``kernel.so`` (TVM's exported library, device code embedded), ``kernel_source.txt`` (CUDA source, or the
lowered TIR for the CPU), ``meta.json`` (entry name, target, parameters, out_idx, format version).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import tvm

from ..errors import CompileError
from .compile import BuildResult

FORMAT_VERSION = 1
LIBRARY = "kernel.so"
SOURCE = "kernel_source.txt"
META = "meta.json"
CUBIN = "kernel.cubin"  # CUDA only: the binary our nvcc built from the source


@dataclass
class ArtifactMeta:
    """What a JITKernel needs besides the library."""

    entry: str
    target: str
    target_kind: str
    params: list  # KernelParam.to_json() dicts
    out_idx: list
    kernel_info: dict = field(default_factory=dict)  # the path taken (Hopper kernel or generic), real parameters

    def to_json(self) -> dict:
        return {"format": FORMAT_VERSION, "entry": self.entry, "target": self.target,
                "target_kind": self.target_kind, "params": self.params, "out_idx": self.out_idx,
                "kernel_info": self.kernel_info}

    @staticmethod
    def from_json(data: dict) -> "ArtifactMeta":
        if data.get("format") != FORMAT_VERSION:
            raise CompileError(f"artifact format {data.get('format')} is not {FORMAT_VERSION}")
        return ArtifactMeta(data["entry"], data["target"], data["target_kind"], data["params"], data["out_idx"],
                            data.get("kernel_info", {}))


def write_artifact(folder: Path, result: BuildResult, meta: ArtifactMeta) -> None:
    """Write a built kernel into ``folder`` (which must exist)."""
    folder = Path(folder)
    result.executable.export_library(str(folder / LIBRARY))
    (folder / SOURCE).write_text(result.source)
    if getattr(result, "cubin", None):
        (folder / CUBIN).write_bytes(result.cubin)
    (folder / META).write_text(json.dumps(meta.to_json(), indent=1))


def read_meta(folder: Path) -> ArtifactMeta:
    """The metadata of an artifact folder."""
    return ArtifactMeta.from_json(json.loads((Path(folder) / META).read_text()))


def read_source(folder: Path) -> str:
    """The device source kept in an artifact folder."""
    return (Path(folder) / SOURCE).read_text()


def load_function(folder: Path, entry: str):
    """Load the library of an artifact folder and return its entry function (a tvm_ffi.Function)."""
    module = tvm.runtime.load_module(str(Path(folder) / LIBRARY))
    return module[entry]
