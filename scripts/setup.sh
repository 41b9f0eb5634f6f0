#!/usr/bin/env bash
# Create a virtual environment (.venv unless TILEDSL_VENV names another) and install tiledsl with its test extras.
# --if-needed: do nothing when the environment was installed from the same pyproject.toml, constraints.txt and
# this script (a stamp in the environment holds their hash); scripts/test.sh and scripts/example.sh use it.
#   default:          the exact versions CI last passed with (constraints.txt), so a fresh machine gets what was
#                     tested, whatever has been released since
#   TILEDSL_NEWEST=1: the newest release of every dependency that pyproject.toml allows (CI runs this too, so the
#                     next breaking release is caught by us)
# torch is installed first. Where pip finds only PyPI, that is a multi-GB CUDA build on Linux: set
# TILEDSL_TORCH_INDEX=https://download.pytorch.org/whl/cpu for the CPU build. TILEDSL_KEEP_TORCH=1 keeps the torch
# that the environment already has (a GPU machine's CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${TILEDSL_VENV:-.venv}
TORCH_INDEX=()
if [ -n "${TILEDSL_TORCH_INDEX:-}" ]; then
  TORCH_INDEX=(--extra-index-url "$TILEDSL_TORCH_INDEX")
fi
STAMP="$VENV/.tiledsl-install-stamp"
want="$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -d' ' -f1) newest=${TILEDSL_NEWEST:-0}"
if [ "${1:-}" = "--if-needed" ] && [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
rm -f "$STAMP"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
pip() { "$VENV/bin/python" -m pip "$@"; }
pip install -q --upgrade pip
if [ "${TILEDSL_NEWEST:-0}" = 1 ]; then
  # torch: the newest build of TILEDSL_TORCH_INDEX when one is set; otherwise the tested one (the newest on PyPI
  # is a CUDA build of several GB). Everything else: the newest release pyproject.toml allows.
  if [ "${TILEDSL_KEEP_TORCH:-0}" != 1 ]; then
    if [ -n "${TILEDSL_TORCH_INDEX:-}" ]; then
      pip install -q --upgrade "${TORCH_INDEX[@]}" torch
    else
      pip install -q -c constraints.txt torch
    fi
  fi
  keep_torch=$(mktemp)
  trap 'rm -f "$keep_torch"' EXIT
  "$VENV/bin/python" -c "import torch; print('torch==' + torch.__version__)" > "$keep_torch"
  pip install -q --upgrade --upgrade-strategy eager -c "$keep_torch" -e ".[test]"
else
  if [ "${TILEDSL_KEEP_TORCH:-0}" != 1 ]; then
    pip install -q -c constraints.txt "${TORCH_INDEX[@]}" torch
  fi
  pip install -q -c constraints.txt -e ".[test]"
fi
echo "$want" > "$STAMP"
