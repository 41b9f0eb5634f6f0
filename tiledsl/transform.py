"""``tilelang.transform``'s public name used by programs: ``PassConfigKey``."""
from .pass_config import PassConfigKey  # noqa: F401

__all__ = ["PassConfigKey"]
