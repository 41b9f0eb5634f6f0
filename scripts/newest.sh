#!/usr/bin/env bash
# Does tiledsl still work with the newest release of every dependency that pyproject.toml allows? CI runs this
# after the pinned suite, so the next breaking release (cloudpickle 3.1.3 was one) is caught by us, not by a user.
# .venv-newest starts as a copy of .venv (no second torch download), then everything is upgraded; a meaningful
# subset of the tests runs there: factories from a script / module / closure / notebook cell, each tuned (with a
# ref_prog check in the benchmark worker) and par_compiled, and the README's tuning program; all run CPU kernels
# against torch.
set -euo pipefail
cd "$(dirname "$0")/.."
NEWEST=.venv-newest
if [ ! -x "$NEWEST/bin/python" ] && [ -x .venv/bin/python ]; then
  cp -a .venv "$NEWEST"
  rm -f "$NEWEST/.tiledsl-install-stamp"  # always upgraded: new releases appear daily
fi
TILEDSL_VENV="$NEWEST" TILEDSL_NEWEST=1 bash scripts/setup.sh
echo "newest releases installed (versions that differ from constraints.txt):"
"$NEWEST/bin/python" -m pip freeze --exclude-editable | grep -v -i -x -F -f constraints.txt | sed 's/^/  /' || true
export TVM_BACKTRACE=1
"$NEWEST/bin/python" -m pytest -q -ra -n 2 --dist loadfile \
  testing/test_autotune_sources.py \
  "testing/test_autotune_example.py::test_readme_tuning_program_runs_as_written_and_shows_progress" "$@"
