"""``tilelang.contrib``'s helpers that programs call (``nvcc.get_target_compute_version``)."""
from . import nvcc  # noqa: F401
