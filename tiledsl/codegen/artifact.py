"""Artifact folders: a built kernel as files (shared library, device source, JSON metadata), no pickles.

Layout: ``kernel.so`` (TVM's exported library, device code embedded), ``kernel_source.txt`` (CUDA source, or the
lowered TIR for the CPU), ``kernel.cubin`` (CUDA only), ``meta.json`` (entry name, target, parameters, out_idx,
format version, the sha256 of every other file and a checksum of the metadata itself).

Nothing is loaded before it is verified: :func:`verify_artifact` checks the format, the metadata's checksum and
every file's sha256, so a truncated, flipped or replaced library is an :class:`~tiledsl.errors.ArtifactError`
(the kernel cache then rebuilds) instead of a SIGBUS or SIGILL in ``load_module``.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import tvm

from .. import config
from ..cache.folders import private_scratch
from ..cache.key import content_key
from ..errors import ArtifactError
from .compile import BuildResult

FORMAT_VERSION = 2  # 2: sha256 of each file and a checksum of the metadata
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
    files: dict = field(default_factory=dict)  # file name -> sha256, written by write_artifact
    kernel_info: dict = field(default_factory=dict)  # the path taken (Hopper kernel or generic), real parameters

    def to_json(self) -> dict:
        """The metadata as written to ``meta.json``, with its checksum."""
        body = {"format": FORMAT_VERSION, "entry": self.entry, "target": self.target,
                "target_kind": self.target_kind, "params": self.params, "out_idx": self.out_idx,
                "files": self.files, "kernel_info": self.kernel_info}
        return body | {"checksum": content_key(body)}

    @staticmethod
    def from_json(data, where: str = "meta.json") -> "ArtifactMeta":
        """Metadata read back; ArtifactError when it is of another format or does not match its checksum."""
        if not isinstance(data, dict):
            raise ArtifactError(f"{where} holds no artifact metadata")
        if data.get("format") != FORMAT_VERSION:
            raise ArtifactError(f"{where} is in artifact format {data.get('format')!r}; this tiledsl reads format "
                                f"{FORMAT_VERSION} only: rebuild the kernel (cache entries are rebuilt for you)")
        body = {k: v for k, v in data.items() if k != "checksum"}
        if data.get("checksum") != content_key(body):
            raise ArtifactError(f"{where} does not match its checksum (truncated or modified)")
        try:
            return ArtifactMeta(data["entry"], data["target"], data["target_kind"], data["params"], data["out_idx"],
                                dict(data["files"]), dict(data.get("kernel_info") or {}))
        except (KeyError, TypeError) as err:
            raise ArtifactError(f"{where} lacks {err}") from None


def file_sha256(path: Path) -> str:
    """The sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_artifact(folder: Path, result: BuildResult, meta: ArtifactMeta) -> None:
    """Write a built kernel into ``folder`` (which must exist), with the sha256 of each file in its metadata.

    TVM's scratch files (the objects it links) go to a private folder under ``TILEDSL_TMP_DIR``, removed after."""
    folder = Path(folder)
    workspace = private_scratch(config.tmp_dir(), "tiledsl-export-")
    try:
        result.executable.export_library(str(folder / LIBRARY), workspace_dir=str(workspace))
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    (folder / SOURCE).write_text(result.source)
    names = [LIBRARY, SOURCE]
    if getattr(result, "cubin", None):
        (folder / CUBIN).write_bytes(result.cubin)
        names.append(CUBIN)
    meta.files = {name: file_sha256(folder / name) for name in names}
    (folder / META).write_text(json.dumps(meta.to_json(), indent=1))


def read_meta(folder: Path) -> ArtifactMeta:
    """The metadata of an artifact folder (ArtifactError when it is missing, unreadable or modified)."""
    path = Path(folder) / META
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ArtifactError(f"{path} cannot be read: {type(err).__name__}: {err}") from None
    return ArtifactMeta.from_json(data, str(path))


def verify_artifact(folder: Path) -> ArtifactMeta:
    """Check an artifact folder before anything in it is loaded: format, metadata checksum, and the sha256 of
    every file it lists. Returns the metadata; raises ArtifactError naming the first file that does not match."""
    folder = Path(folder)
    meta = read_meta(folder)
    if LIBRARY not in meta.files or SOURCE not in meta.files:
        raise ArtifactError(f"{folder / META} lists no {LIBRARY} or {SOURCE}")
    for name, digest in meta.files.items():
        path = folder / name
        if "/" in name or name in (META, "..", "."):
            raise ArtifactError(f"{folder / META} names a file outside its folder: {name!r}")
        try:
            actual = file_sha256(path)
        except OSError as err:
            raise ArtifactError(f"{path} cannot be read: {type(err).__name__}: {err}") from None
        if actual != digest:
            raise ArtifactError(f"{path} does not match the sha256 recorded when it was written (truncated, "
                                f"corrupted or replaced)")
    return meta


def read_source(folder: Path) -> str:
    """The device source kept in an artifact folder."""
    path = Path(folder) / SOURCE
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{path} cannot be read: {type(err).__name__}: {err}") from None


def load_function(folder: Path, entry: str):
    """Load the library of a verified artifact folder (see :func:`verify_artifact`) and return its entry function
    (a tvm_ffi.Function)."""
    module = tvm.runtime.load_module(str(Path(folder) / LIBRARY))
    try:
        return module[entry]
    except Exception as err:  # the library lacks the entry its metadata names
        raise ArtifactError(f"{Path(folder) / LIBRARY} has no function {entry!r}: {err}") from None


def copy_artifact(source: Path, folder: Path) -> Path:
    """Copy a verified artifact folder's files (those its metadata lists, and the metadata) into ``folder``."""
    meta = verify_artifact(source)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in [*meta.files, META]:
        shutil.copyfile(Path(source) / name, folder / name)
    return folder


