#!/usr/bin/env bash
# Installs axe-core (the npm package) for the browser tests' accessibility checks into
# tests/browser/node_modules (git-ignored; never served by the app).  Idempotent and quiet;
# warns instead of failing when npm or the registry is unavailable (the axe tests then skip).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
version="4.14.1"
target="$here/node_modules/axe-core/axe.min.js"
if [ -f "$target" ] && grep -q "\"version\": \"$version\"" "$here/node_modules/axe-core/package.json" 2>/dev/null; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "warning: npm not found; axe-core not installed (accessibility checks will skip)" >&2
  exit 0
fi
if ! npm install --prefix "$here" --no-save --no-audit --no-fund --no-package-lock --silent \
    "axe-core@$version" >/dev/null 2>&1; then
  echo "warning: npm could not install axe-core@$version (offline?); accessibility checks will skip" >&2
  exit 0
fi
[ -f "$target" ] || echo "warning: axe-core installed but $target is missing" >&2
exit 0
