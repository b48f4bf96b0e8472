#!/usr/bin/env bash
# The one test command (`make test`): lint, types, import rules, then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
bash scripts/ensure-system-deps.sh
bash scripts/build-designer.sh
bash scripts/lint.sh
exec $BIN/pytest -q -p no:cacheprovider "$@"
