#!/usr/bin/env bash
# Build the web app into dist/ (the ui component's `files`): install the
# locked packages when the lockfile changed, type-check, bundle with Vite,
# and write a gzip sibling of each text file for clients that accept it.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
  echo "ui: Node.js >= 20.19 with npm is needed to build the web app (scripts/setup.sh installs it)" >&2
  exit 1
fi
stamp=node_modules/.lode-package-lock.json
if ! cmp -s package-lock.json "$stamp"; then
  # The browser tests use the system Chromium; never download one.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
npm run --silent build
