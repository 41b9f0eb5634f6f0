"""``tilelang.carver.roller``: importable; its objects raise ConfigError when created (see ``tiledsl.carver``)."""
