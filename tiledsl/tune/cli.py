"""``python -m tiledsl.tune``: tune ahead of time, or warm the caches.

    python -m tiledsl.tune [tune] module:factory --shapes shapes.json --out DIR
    python -m tiledsl.tune warmup module:factory --shapes shapes.json [--configs-dir DIR] [--no-tune]

``module:factory`` names an ``@tiledsl.autotune`` factory (``module`` is imported; a path to a ``.py`` file works
too). ``shapes.json`` is a JSON list of argument dicts (``[{"M": 1, "N": 4096, "K": 4096}, ...]``). ``tune`` tunes
each bucket once and writes ``DIR/<device>/<factory>.json`` after each bucket (run it again to resume); ``warmup``
tunes (unless ``--no-tune``) and compiles every shape into the caches. The summary goes to stdout as JSON.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from pathlib import Path

from ..errors import ConfigError, TileDSLError


def load_factory(spec: str):
    """The object named by ``module:attr`` (or ``path/to/file.py:attr``)."""
    if ":" not in spec:
        raise ConfigError(f"{spec!r}: name the factory as module:factory (e.g. mypkg.kernels:matmul)")
    module_name, _, attr = spec.rpartition(":")
    folder = Path.cwd()
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        if not path.is_file():
            raise ConfigError(f"{module_name}: no such file")
        folder, module_name = path.parent, path.stem
    _importable_from(folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"cannot import {module_name!r} (from {spec!r}): {err}") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def _importable_from(folder: Path) -> None:
    """Make ``folder`` importable here and in the tuner's worker processes (they import the factory's module)."""
    folder = str(folder)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if folder not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([folder, *paths])


def _read_shapes(path: str) -> list:
    try:
        shapes = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"--shapes {path}: {err}") from None
    return shapes


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tiledsl.tune", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("factory", help="module:factory of an @tiledsl.autotune factory")
    p.add_argument("--shapes", required=True, help="JSON file: a list of argument dicts")
    p.add_argument("--out", help="(tune) folder of the tuned-configs files")
    p.add_argument("--configs-dir", help="(warmup) shipped tuned configs to use (as TILEDSL_TUNED_CONFIGS)")
    p.add_argument("--no-tune", action="store_true", help="(warmup) compile only, never tune")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO")
    return p


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    from .offline import tune_shapes, warmup

    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in ("tune", "warmup") else "tune"
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.configs_dir:
            os.environ["TILEDSL_TUNED_CONFIGS"] = args.configs_dir
        factory = load_factory(args.factory)
        shapes = _read_shapes(args.shapes)
        if command == "tune":
            if not args.out:
                raise ConfigError("tune needs --out DIR (where DIR/<device>/<factory>.json is written)")
            summary = tune_shapes(factory, shapes, args.out)
        else:
            kernels = warmup(factory, shapes, tune=not args.no_tune)
            summary = {"compiled": len(kernels), "stats": getattr(factory, "stats", {})}
    except TileDSLError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    print(json.dumps(summary))
    return 0
