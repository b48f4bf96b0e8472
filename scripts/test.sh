#!/usr/bin/env bash
# The one test command (`make test`): lint, types, import rules, then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
bash scripts/ensure-system-deps.sh
bash scripts/build-designer.sh
bash scripts/lint.sh
# Two workers, a test file each at a time: the suite is CPU-bound in one process otherwise.
exec $BIN/pytest -q -p no:cacheprovider -n "${SERVFLOW_TEST_WORKERS:-2}" --dist loadfile "$@"
