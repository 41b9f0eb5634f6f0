"""One error tree for tiledsl.

Every error a user can cause derives from :class:`TileDSLError`, so ``except tiledsl.TileDSLError`` catches them
all. Messages say what is wrong, what was expected and, where possible, the user's file and line.
"""


class TileDSLError(Exception):
    """Base class of every error tiledsl raises on purpose."""


class TileProgramError(TileDSLError):
    """A mistake in a tile program: a region that does not match its tile, a wrong scope, an unknown name."""


class SharedMemoryError(TileProgramError):
    """A kernel's shared tiles do not fit in the shared memory of one block."""


class CompileError(TileDSLError):
    """Lowering or building a kernel failed (TVM, LLVM or nvcc said no)."""


class CompileTimeoutError(CompileError):
    """A build ran past its time limit."""


class KernelArgumentError(TileDSLError, TypeError):
    """A kernel was called with the wrong number, shape, dtype or device of arguments."""


class TargetError(TileDSLError):
    """The target cannot run here (no GPU, unknown target kind or arch)."""


class ConfigError(TileDSLError, ValueError):
    """A tuning config or option is wrong (unknown key, illegal value)."""


class AutotuneError(TileDSLError):
    """Tuning found no candidate that compiled, ran and passed the check."""


class ArtifactError(TileDSLError):
    """An artifact folder (a cached or saved kernel) is missing files, corrupt, modified or of another format.

    The kernel cache treats it as a miss and rebuilds; ``JITKernel.load`` of a user's folder raises it."""


class CacheFolderError(TileDSLError):
    """A cache or scratch folder cannot be used safely (owned by another user, or writable by everyone)."""


def refusing(name: str, message: str, doc: str):
    """A stand-in for a TileLang name tiledsl does not implement: calling it raises TileProgramError(message)."""
    def refuse(*args, **kwargs):
        raise TileProgramError(message)
    refuse.__name__ = name
    refuse.__doc__ = doc
    return refuse
