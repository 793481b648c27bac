#!/usr/bin/env bash
# Platform-control runtime matrix: the runtimes a release builds, publishes and deploys.
# Every runtime here needs a publish:<runtime> job in .gitlab-ci.yml (or an intentional filter in
# .pc-release.yaml), a runtimes/<runtime>/Dockerfile, and a digest at the fan-in.
#
# Source it to get the arrays and platform_control_profile_runtimes; run it to print, one per line,
# the runtimes the current release profile (PLATFORM_CONTROL_RELEASE_PROFILE) publishes.

PLATFORM_CONTROL_RUNTIMES=(
  api               # REST API: platform roles, admin audit log
  web               # admin web frontend
  worker            # role-binding reconcile worker
  terminal-gateway  # internal terminal WebSocket listener
)

# The only runtimes a web-fast release publishes and deploys (.pc-release.yaml web_runtimes).
PLATFORM_CONTROL_WEB_RUNTIMES=(web)

platform_control_profile_runtimes() {
  if [[ "${PLATFORM_CONTROL_RELEASE_PROFILE:-standard}" == "web-fast" ]]; then
    printf '%s\n' "${PLATFORM_CONTROL_WEB_RUNTIMES[@]}"
  else
    printf '%s\n' "${PLATFORM_CONTROL_RUNTIMES[@]}"
  fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  platform_control_profile_runtimes
fi
