#!/usr/bin/env bash
# Platform-control local preflight (make platform-control-local-preflight): the full frontend Playwright
# e2e, the role authz smoke and kind parity. Runs all three, then fails if any failed. Advisory by
# policy: review a failure and decide whether it is a release blocker or local-environment noise.
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
mkdir -p dist/preflight
export PLAYWRIGHT_JSON_OUTPUT_NAME="${PLAYWRIGHT_JSON_OUTPUT_NAME:-dist/preflight/playwright-report.json}"

declare -A outcome
run() {
  local name="$1"
  shift
  echo "== preflight: $name"
  if "$@"; then outcome[$name]=passed; else outcome[$name]="FAILED ($?)"; fi
}

run playwright_e2e bash scripts/ci/platform_control_e2e.sh
run role_authz_smoke python3 scripts/ci/platform_control_role_authz_smoke.py dist/preflight/role-authz-smoke.xml
run kind_parity python3 scripts/ci/platform_control_kind_parity.py

status=0
echo "== preflight summary"
for name in playwright_e2e role_authz_smoke kind_parity; do
  echo "   $name: ${outcome[$name]}"
  [[ "${outcome[$name]}" == passed ]] || status=1
done
exit "$status"
