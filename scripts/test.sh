#!/usr/bin/env bash
# Install (scripts/setup.sh) when needed, then run the test suite with 2 pytest workers, each taking whole files
# (a module-scoped fixture compiles its kernels once): this is what CI runs.
# "When needed": no .venv yet, or pyproject.toml / constraints.txt / setup.sh changed since the last install.
# Tests marked slow (long waits for timeouts, a rank killed mid-run, the opt-in schedules' tests) are left out; `bash scripts/test.sh -m slow`
# runs just them, `-m ""` everything. Other arguments go to pytest (e.g. `-x`, `-k autotune`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --if-needed
export TVM_BACKTRACE=1
.venv/bin/python -m pytest testing -q -ra -n 2 --dist loadfile -m "not slow" "$@"
