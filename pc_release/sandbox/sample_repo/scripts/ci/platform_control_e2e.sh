#!/usr/bin/env bash
# Local preflight: the full frontend Playwright e2e suite (admin route guard, platform-role
# bind/list/revoke, audit log). Scoped debugging runs pass a grep in PLAYWRIGHT_GREP.
#
# @playwright/test comes from PC_RELEASE_NODE_MODULES (a node_modules directory holding it, linked
# into frontend/) or from an existing frontend/node_modules. Browsers are not downloaded: the suite
# uses the OS chromium (PLAYWRIGHT_CHROMIUM_EXECUTABLE, default /usr/bin/chromium).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
frontend="$repo_root/frontend"

if [[ -n "${PC_RELEASE_NODE_MODULES:-}" ]]; then
  if [[ ! -d "$PC_RELEASE_NODE_MODULES/@playwright/test" ]]; then
    echo "Cannot find module '@playwright/test' in PC_RELEASE_NODE_MODULES=$PC_RELEASE_NODE_MODULES" >&2
    exit 2
  fi
  if [[ -L "$frontend/node_modules" || ! -e "$frontend/node_modules" ]]; then
    ln -sfn "$PC_RELEASE_NODE_MODULES" "$frontend/node_modules"
  fi
fi
if [[ ! -d "$frontend/node_modules/@playwright/test" ]]; then
  echo "Cannot find module '@playwright/test': set PC_RELEASE_NODE_MODULES to a node_modules directory holding it" >&2
  exit 2
fi

# Relative report paths are meant from the repository root, whatever directory Playwright runs in.
report="${PLAYWRIGHT_JSON_OUTPUT_NAME:-playwright-report.json}"
[[ "$report" == /* ]] || report="$repo_root/$report"
mkdir -p "$(dirname "$report")"
export PLAYWRIGHT_JSON_OUTPUT_NAME="$report"

args=(test)
if [[ -n "${PLAYWRIGHT_GREP:-}" ]]; then
  echo "e2e: scoped run, grep: $PLAYWRIGHT_GREP"
  args+=(--grep "$PLAYWRIGHT_GREP")
else
  echo "e2e: full suite"
fi
echo "e2e: chromium ${PLAYWRIGHT_CHROMIUM_EXECUTABLE:-/usr/bin/chromium}, report $report"

cd "$frontend"
exec npx --no playwright "${args[@]}"
