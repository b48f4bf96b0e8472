#!/usr/bin/env bash
# Installs the designer's npm packages and bundles it (designer/static/build/).
set -euo pipefail
cd "$(dirname "$0")/../designer/frontend" 2>/dev/null || exit 0
[ -f package.json ] || exit 0
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
