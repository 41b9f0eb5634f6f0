"""tiledsl's passes over TVM IR, one per module; ``pipeline.py`` holds the ordered list per target."""
