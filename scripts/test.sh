#!/usr/bin/env bash
# Install (scripts/setup.sh), then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TVM_BACKTRACE=1
.venv/bin/python -m pytest testing -q -ra "$@"
