#!/usr/bin/env bash
# The one test command (`make test`): lint, types, then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
bash scripts/ensure-system-deps.sh
bash scripts/build-designer.sh
$BIN/ruff check .
$BIN/ruff format --check .
$BIN/mypy
exec $BIN/pytest -q -p no:cacheprovider "$@"
