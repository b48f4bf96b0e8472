#!/usr/bin/env bash
# Installs the designer's npm packages and bundles it (designer/static/build/).
# No source maps unless SERVFLOW_DESIGNER_SOURCEMAPS=1 (also needed at run time to serve them).
set -euo pipefail
cd "$(dirname "$0")/../designer/frontend" 2>/dev/null || exit 0
[ -f package.json ] || exit 0
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
