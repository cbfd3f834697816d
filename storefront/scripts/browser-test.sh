#!/usr/bin/env bash
# Builds the storefront and runs its browser tests (e2e/run.mjs) against a
# running router. Env: SHOP_ROUTER_URL, SHOP_ADMIN_EMAIL, SHOP_ADMIN_PASSWORD,
# SHOP_ARTIFACTS_DIR (see e2e/run.mjs); VITE_TRUSTED_DOCUMENTS=false builds and
# tests the mode that sends query text instead of persisted document ids.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-browser.sh

ensure_browser

# Dependencies: installed when missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
fi

export VITE_TRUSTED_DOCUMENTS="${VITE_TRUSTED_DOCUMENTS:-true}"
# scripts/test builds once, before the tests that read the manifest run in parallel.
if [ "${SHOP_STOREFRONT_PREBUILT:-}" != "1" ]; then
  npm run build
fi
exec node e2e/run.mjs
