#!/usr/bin/env bash
# `make lint` (and the first half of `make test`): style, formatting, types, import rules.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
$BIN/ruff check .
$BIN/ruff format --check .
$BIN/mypy
# The house's import rules (.importlinter; docs/architecture.md explains them).
$BIN/lint-imports --no-cache
