"""Turn an artifact folder into a JITKernel (the one place that decides whether a kernel can run here).

Every load goes through :func:`load_kernel`, which verifies the folder (format, checksums, sha256 of each file) before
the library is opened: the kernel cache, ``JITKernel.load``, ``load_from_disk`` and the autotuner's workers all
get an :class:`~tiledsl.errors.ArtifactError` for a damaged folder, never a crash.
"""
from __future__ import annotations

from pathlib import Path

from ..codegen import artifact
from ..errors import ArtifactError
from .kernel import JITKernel
from .params import KernelParam
from .target import gpu_arch

#: Why a CUDA kernel with 4-bit tensor parameters is built but never run: TVM 0.27's CUDA code for 4-bit buffers is
#: wrong (a scalar int4 load reads the whole 32-bit word holding eight values, and the cp.async copies of 4-bit tiles
#: move twice the bytes of their rows), and its host function takes int4 DLPack tensors, not the packed int8 ones.
CUDA_4BIT_REASON = ("its int4/uint4 tensors are supported on the CPU target only for now (TVM's CUDA code for "
                    "4-bit buffers reads whole words instead of single values); compile it for the CPU (target=\"llvm\")")


def load_kernel(folder: Path, prim_func=None) -> JITKernel:
    """Load the library in ``folder`` when its target can run here; else a kernel that explains why not.
    Raises ArtifactError when the folder is incomplete, of another format, or its files were modified."""
    meta = artifact.verify_artifact(folder)
    source = artifact.read_source(folder)
    if meta.target_kind == "cuda" and any(KernelParam.from_json(p).packed for p in meta.params):
        return JITKernel(None, meta, source, prim_func=prim_func, folder=folder,
                         not_runnable_reason=CUDA_4BIT_REASON)
    if meta.target_kind == "llvm" or gpu_arch() is not None:
        function = artifact.load_function(folder, meta.entry)
        return JITKernel(function, meta, source, prim_func=prim_func, folder=folder)
    return JITKernel(None, meta, source, prim_func=prim_func, folder=folder,
                     not_runnable_reason="no CUDA GPU is visible in this process")


def artifact_problem(folder, inside=None) -> str | None:
    """Why the artifact ``folder`` must not be loaded, or None when it may: it lies outside the folder ``inside``
    (the kernel cache, for a recorded trial), or it is incomplete, of another format or modified. Reads files and
    hashes them; never loads the library (the autotuner calls this before trusting a recorded trial)."""
    path = Path(folder).resolve()
    if inside is not None and not path.is_relative_to(Path(inside).resolve()):
        return f"{folder} is outside {inside}"
    try:
        artifact.verify_artifact(path)
    except ArtifactError as err:
        return str(err)
    return None
