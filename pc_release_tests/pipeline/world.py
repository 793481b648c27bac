"""A small platform repository for the pipeline tests: the policy's six stages, two runtimes (api, web), a
web-fast profile and a deploy mode, published to a bare origin with master and the release branch."""

from __future__ import annotations

from pathlib import Path

from pc_release_tests.gitworld import GitWorld, make_git_world

CI_YAML = """\
stages: [contracts, build-test, package, digest-fan-in, deploy, remote-validation]
workflow:
  rules:
    - if: '$CI_COMMIT_BRANCH == "master"'
    - if: '$CI_COMMIT_BRANCH == "release/platform-control"'
variables:
  PLATFORM_CONTROL_RELEASE_MODE: full
  PLATFORM_CONTROL_RELEASE_PROFILE: standard
.web-fast-never: &web-fast-never
  if: '$PLATFORM_CONTROL_RELEASE_PROFILE == "web-fast"'
  when: never
.release-only: &release-only
  if: '$CI_COMMIT_BRANCH == "release/platform-control"'
.release-job:
  rules: [*web-fast-never, *release-only]
.release-web-job:
  rules: [*release-only]
.standard-job:
  rules: [*web-fast-never, {when: on_success}]
openapi-contract:
  stage: contracts
  script: [echo openapi]
release-branch-guard:
  extends: .release-web-job
  stage: contracts
  script: [pc-release guard]
backend-test:
  extends: .standard-job
  stage: build-test
  script: [echo backend]
frontend-test:
  stage: build-test
  script: [echo frontend]
sdk-check:
  extends: .standard-job
  stage: build-test
  script: [echo sdk]
.publish:
  stage: package
  script: [echo "PLATFORM_CONTROL_RUNTIME_DIGEST_$RUNTIME=sha256:..." > runtime-digest.env]
  artifacts:
    paths: [runtime-digest.env]
    reports: {dotenv: runtime-digest.env}
publish:api:
  extends: [.release-job, .publish]
  variables: {RUNTIME: API}
publish:web:
  extends: [.release-web-job, .publish]
  variables: {RUNTIME: WEB}
platform_control_assemble_runtime_digests:
  extends: .release-web-job
  stage: digest-fan-in
  script: [echo fan-in]
deploy-schema:
  extends: .release-job
  stage: deploy
  script: [echo schema]
deploy-manifests:
  extends: .release-web-job
  stage: deploy
  script: [echo manifests]
rollout:
  extends: .release-web-job
  stage: deploy
  script: [echo rollout]
web-smoke:
  extends: .release-web-job
  stage: remote-validation
  script: [echo web smoke]
disposable-cleanup:
  extends: .release-job
  stage: remote-validation
  script: [echo cleanup]
post-deploy-runtime-evidence:
  stage: remote-validation
  allow_failure: true
  script: [echo evidence]
  rules:
    - *web-fast-never
    - if: '$CI_COMMIT_BRANCH == "release/platform-control" && $PLATFORM_CONTROL_RELEASE_MODE == "full"'
"""

RELEASE_CONFIG = """\
runtime_matrix: scripts/ci/platform_control_runtime_matrix.sh
publish_job: "publish:{runtime}"
digest_artifact: runtime-digest.env
digest_variable: "PLATFORM_CONTROL_RUNTIME_DIGEST_{RUNTIME}"
web_runtimes: [web]
report_only_jobs: [post-deploy-runtime-evidence]
web_fast_jobs:
  - openapi-contract
  - release-branch-guard
  - frontend-test
  - publish:web
  - platform_control_assemble_runtime_digests
  - deploy-manifests
  - rollout
  - web-smoke
preflight:
  checks: {}
watched_paths: [runtimes/, scripts/ci/]
"""

MATRIX = "PLATFORM_CONTROL_RUNTIMES=(\n  api\n  web\n)\n"

DOCKERFILE = """\
FROM scratch
ARG VERSION
ARG REVISION
ARG CREATED
LABEL org.opencontainers.image.version=$VERSION \\
      org.opencontainers.image.revision=$REVISION \\
      org.opencontainers.image.created=$CREATED
"""

FILES = {
    ".pc-release.yaml": RELEASE_CONFIG,
    "scripts/ci/platform_control_runtime_matrix.sh": MATRIX,
    "runtimes/api/Dockerfile": DOCKERFILE,
    "runtimes/web/Dockerfile": DOCKERFILE,
}


def make_platform_world(root: Path) -> GitWorld:
    world = make_git_world(root, ci_yaml=CI_YAML)
    world.commit("platform runtimes and release config", dict(FILES))
    world.push("master")
    return world
