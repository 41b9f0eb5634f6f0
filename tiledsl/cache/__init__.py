"""Content-addressed caches: keys (``key.py``) and the atomic disk store (``store.py``)."""
from .key import content_key, environment_stamp
from .store import DiskStore

__all__ = ["content_key", "environment_stamp", "DiskStore"]
