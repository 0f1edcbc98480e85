#!/usr/bin/env bash
# Installs the pinned npm packages of the browser checks (package-lock.json: playwright-core,
# axe-core) into tests/web/node_modules when they are missing. No browser is downloaded: the
# checks drive the Debian chromium (/usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")"
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json .installed-lock 2>/dev/null; then
  exit 0
fi
command -v npm >/dev/null || { echo "tests/web/setup.sh: npm is missing (install nodejs with npm)" >&2; exit 1; }
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2
cp package-lock.json .installed-lock
