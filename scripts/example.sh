#!/usr/bin/env bash
# Install (scripts/setup.sh) when needed, then run the main example: tune and run a GEMM (GPU if there is one,
# else CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --if-needed
.venv/bin/python examples/autotune_gemm.py
