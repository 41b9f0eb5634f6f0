#!/usr/bin/env bash
# Install (scripts/setup.sh) when needed, then run the test suite: the command below is what CI runs.
# "When needed": no .venv yet, or pyproject.toml / constraints.txt changed since the last install (a stamp holds
# their hash), or TILEDSL_REINSTALL=1. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${TILEDSL_VENV:-.venv}
STAMP="$VENV/.tiledsl-install-stamp"
want=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)-${TILEDSL_NEWEST:-0}
if [ "${TILEDSL_REINSTALL:-0}" = 1 ] || [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  bash scripts/setup.sh
  echo "$want" > "$STAMP"
fi
export TVM_BACKTRACE=1
"$VENV/bin/python" -m pytest testing -q -ra -n 2 "$@"
