"""``python -m tiledsl.tune``: see tiledsl/tune/cli.py."""
import sys

from .cli import main

sys.exit(main())
