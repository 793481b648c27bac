"""Runtime matrix vs publish jobs and digest fan-in, on a large real-world-style `.gitlab-ci.yml` that uses
anchors and aliases, extends chains, !reference, local includes, parallel matrix, hidden jobs, rules, needs
and keys the reader does not know; and the same facts from GitLab's merged configuration (the sandbox's CI Lint),
which sees what the offline reader cannot."""

from __future__ import annotations

import pytest

from pc_release.policy.readiness import runtime_digest_fan_in, runtime_publish_jobs
from pc_release.readiness.publish import pipeline_scope, publish_facts
from pc_release.release_config import load_release_config
from pc_release.resources.gitlab import GitLabResource
from pc_release.sandbox.gitlab_server import SandboxGitLab
from pc_release_tests.sandbox.conftest import PROJECT, TOKEN, Origin

SHA = "a" * 40
MATRIX = """#!/usr/bin/env bash
PLATFORM_CONTROL_RUNTIMES=(
  api               # REST API
  web
  worker
  terminal-gateway  # internal WebSocket listener
)
"""
CONFIG = """
runtime_matrix: scripts/ci/runtimes.sh
publish_job: "publish: [{runtime}]"
web_runtimes: [web]
"""
ENTRY = """
include:
  - local: ci/templates.yml
  - local: /ci/publish.yml
  - remote: https://gitlab.example.com/shared/ci/-/raw/main/security.yml
  - template: Jobs/SAST.gitlab-ci.yml

stages: [contracts, build-test, package, digest-fan-in, deploy, remote-validation]

variables:
  PLATFORM_CONTROL_RELEASE_MODE: full
  PLATFORM_CONTROL_RELEASE_PROFILE: standard
  DOCKER_TLS_CERTDIR: ""

workflow:
  name: "platform-control $CI_COMMIT_REF_NAME"
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == "master" || $CI_COMMIT_BRANCH == "release/platform-control"

default:
  image: registry.example.internal/ci:2026.11
  interruptible: true
  retry:
    max: 2
    when: [runner_system_failure, stuck_or_timeout_failure]
  tags: [docker]

.release-rules: &release-rules
  - if: $PLATFORM_CONTROL_RELEASE_PROFILE == "web-fast"
    when: never
  - if: $CI_COMMIT_BRANCH == "release/platform-control"

.web-release-rules: &web-release-rules
  - if: $CI_COMMIT_BRANCH == "release/platform-control"

openapi-contract:
  extends: .python-job
  stage: contracts
  script: [python3 scripts/ci/platform_control_contract_check.py openapi]
  id_tokens:
    SIGSTORE_ID_TOKEN:
      aud: sigstore
  x-custom-owner: platform-team

backend-test:
  extends: .python-job
  stage: build-test
  script:
    - !reference [.scripts, setup]
    - python3 -m unittest
  coverage: '/TOTAL.*\\s+(\\d+%)$/'
  artifacts:
    reports:
      junit: report.xml
      coverage_report:
        coverage_format: cobertura
        path: coverage.xml

platform_control_assemble_runtime_digests:
  extends: .python-job
  stage: digest-fan-in
  rules: *web-release-rules
  needs:
    - job: publish
      optional: true
    - job: openapi-contract
      artifacts: false
  script:
    - !reference [.scripts, setup]
    - python3 scripts/ci/platform_control_assemble_runtime_digests.py
  artifacts:
    reports:
      dotenv: runtime-digests.env

deploy-manifests:
  extends: .python-job
  stage: deploy
  rules: *web-release-rules
  needs: [platform_control_assemble_runtime_digests]
  environment: {name: platform-control, deployment_tier: production}
  resource_group: platform-control
  script: [python3 scripts/ci/platform_control_deploy.py manifests]
"""
TEMPLATES = """
.scripts:
  setup:
    - python3 -m pip install --quiet -r requirements.txt
  publish:
    - python3 scripts/ci/platform_control_publish_runtime.py "$RUNTIME"

.base-job:
  before_script:
    - echo "$CI_JOB_NAME on $CI_COMMIT_SHA"
  secrets:
    REGISTRY_PASSWORD:
      vault: ci/registry/password@platform

.python-job:
  extends: .base-job
  variables:
    PIP_CACHE_DIR: $CI_PROJECT_DIR/.cache/pip
  cache:
    key: pip
    paths: [.cache/pip]

.publish-job:
  extends: .python-job
  stage: package
  script:
    - !reference [.scripts, setup]
    - !reference [.scripts, publish]
  artifacts:
    paths: [runtime-digest.env]
    reports:
      dotenv: runtime-digest.env
    expire_in: 30 days
"""
PUBLISH = """
publish:
  extends: .publish-job
  rules:
    - if: $PLATFORM_CONTROL_RELEASE_PROFILE == "web-fast" && $RUNTIME != "web"
      when: never
    - if: $CI_COMMIT_BRANCH == "release/platform-control"
  parallel:
    matrix:
      - RUNTIME: [api, worker, terminal-gateway]
      - RUNTIME: web
  dependencies: []

.publish-legacy:
  extends: .publish-job
  variables: {RUNTIME: legacy}
"""


def files(**changes: tuple[str, str] | str | None) -> dict[str, str]:
    """The repository, with `path=(old, new)` replacements, `path=text` rewrites or `path=None` deletions."""
    repo = {
        ".gitlab-ci.yml": ENTRY,
        "ci/templates.yml": TEMPLATES,
        "ci/publish.yml": PUBLISH,
        "scripts/ci/runtimes.sh": MATRIX,
    }
    for key, change in changes.items():
        path = {"ci": ".gitlab-ci.yml", "templates": "ci/templates.yml", "publish": "ci/publish.yml"}.get(key, key)
        path = "scripts/ci/runtimes.sh" if key == "matrix" else path
        if change is None:
            repo.pop(path)
        elif isinstance(change, tuple):
            assert change[0] in repo[path], change[0]
            repo[path] = repo[path].replace(*change)
        else:
            repo[path] = change
    return repo


def verdicts(repo: dict[str, str], config: str = CONFIG, profile: str = "standard"):
    release_config = load_release_config(config)
    scope = pipeline_scope(
        SHA,
        "release/platform-control",
        "master",
        {"PLATFORM_CONTROL_RELEASE_MODE": "full", "PLATFORM_CONTROL_RELEASE_PROFILE": profile},
    )
    facts = publish_facts(repo.get, release_config, scope, profile)
    return facts, runtime_publish_jobs(facts), runtime_digest_fan_in(facts)


def test_real_world_file_every_runtime_published_and_fanned_in():
    facts, publish, fan_in = verdicts(files())
    assert facts.status == "ok", facts.reason
    assert publish.ok and not publish.warning, publish.reason
    assert fan_in.ok, fan_in.reason
    assert publish.evidence["published"] == [
        "api: publish: [api] (ci/publish.yml:2)",
        "web: publish: [web] (ci/publish.yml:2)",
        "worker: publish: [worker] (ci/publish.yml:2)",
        "terminal-gateway: publish: [terminal-gateway] (ci/publish.yml:2)",
    ]
    assert facts.fan_in_jobs == ["platform_control_assemble_runtime_digests"]
    fan_in_job = facts.job("platform_control_assemble_runtime_digests")
    assert fan_in_job.location == f".gitlab-ci.yml:{FAN_IN_LINE}"
    assert sorted(fan_in_job.receives_from) == sorted(
        f"publish: [{r}]" for r in ("api", "web", "worker", "terminal-gateway")
    )
    assert facts.job("publish: [api]").dotenv_reports == ["runtime-digest.env"]
    assert ".publish-legacy" not in {job.name for job in facts.jobs}


FAN_IN_NEEDS = "    - job: publish\n      optional: true\n"
FAN_IN_LINE = ENTRY.splitlines().index("platform_control_assemble_runtime_digests:") + 1


@pytest.mark.parametrize(
    ("repo", "config", "profile", "publish_ok", "fan_in_ok", "expected"),
    [
        pytest.param(
            files(publish=("RUNTIME: [api, worker, terminal-gateway]", "RUNTIME: [api, worker]")),
            CONFIG,
            "standard",
            False,
            True,
            "terminal-gateway: no job 'publish: [terminal-gateway]' in the release pipeline",
            id="runtime without publish job",
        ),
        pytest.param(
            files(publish=("RUNTIME: [api, worker, terminal-gateway]", "RUNTIME: [api, worker]")),
            CONFIG + "publish_filters:\n  terminal-gateway: built by the gateway team's own pipeline\n",
            "standard",
            True,
            True,
            "1 filtered on purpose (terminal-gateway)",
            id="intentional filter",
        ),
        pytest.param(
            files(
                ci=(
                    FAN_IN_NEEDS,
                    "    - job: publish\n      parallel:\n        matrix:\n          - RUNTIME: [api, web]\n",
                )
            ),
            CONFIG,
            "standard",
            True,
            False,
            f"platform_control_assemble_runtime_digests (.gitlab-ci.yml:{FAN_IN_LINE}) does not receive "
            "publish: [worker]'s runtime-digest.env (PLATFORM_CONTROL_RUNTIME_DIGEST_WORKER): its "
            "needs/dependencies are",
            id="fan-in needs only some matrix instances",
        ),
        pytest.param(
            files(templates=("    reports:\n      dotenv: runtime-digest.env\n", "")),
            CONFIG,
            "standard",
            True,
            False,
            "publish: [api] (ci/publish.yml:2) does not report runtime-digest.env as a dotenv artifact",
            id="publish job without the dotenv report",
        ),
        pytest.param(
            files(templates=("    paths: [runtime-digest.env]\n", "")),
            CONFIG,
            "standard",
            True,
            False,
            "publish: [api] (ci/publish.yml:2) reports runtime-digest.env as a dotenv report only: GitLab serves it "
            "for download only when `artifacts:paths` lists it too",
            id="digest dotenv report not in artifacts:paths",
        ),
        pytest.param(
            files(templates=("    paths: [runtime-digest.env]\n", "    paths: ['*.env', dist/]\n")),
            CONFIG,
            "standard",
            True,
            True,
            "receive(s) the digest snippet of all 4",
            id="digest artifact covered by an artifacts:paths glob",
        ),
        pytest.param(
            files(templates=("    paths: [runtime-digest.env]\n", "    paths: ['dist/*.env']\n")),
            CONFIG,
            "standard",
            True,
            False,
            "reports runtime-digest.env as a dotenv report only",
            id="artifacts:paths glob that misses the digest artifact",
        ),
        pytest.param(
            files(ci=(FAN_IN_NEEDS + "    - job: openapi-contract\n      artifacts: false\n", "    []\n")),
            CONFIG,
            "standard",
            True,
            False,
            "its needs/dependencies are (none)",
            id="fan-in with empty needs",
        ),
        pytest.param(
            files(ci=("  needs:\n" + FAN_IN_NEEDS + "    - job: openapi-contract\n      artifacts: false\n", "")),
            CONFIG,
            "standard",
            True,
            True,
            "receive(s) the digest snippet of all 4",
            id="fan-in without needs waits for earlier stages",
        ),
        pytest.param(
            files(ci=("  stage: digest-fan-in\n", "  stage: package\n"), publish=("  dependencies: []\n", "")),
            CONFIG + "job_stage_overrides:\n  platform_control_assemble_runtime_digests: digest_fan_in\n",
            "standard",
            True,
            True,
            "receive(s) the digest snippet of all 4",
            id="fan-in pinned by job_stage_overrides",
        ),
        pytest.param(
            files(
                ci=(
                    "  stage: digest-fan-in\n  rules: *web-release-rules\n",
                    "  stage: deploy\n  rules: *web-release-rules\n",
                )
            ),
            CONFIG,
            "standard",
            True,
            False,
            "no digest fan-in job",
            id="no job in the fan-in stage",
        ),
        pytest.param(
            files(
                publish=(
                    '    - if: $CI_COMMIT_BRANCH == "release/platform-control"\n',
                    '    - if: $CI_COMMIT_BRANCH == "release/platform-control"\n      when: manual\n',
                )
            ),
            CONFIG,
            "standard",
            False,
            True,
            "is manual, so nothing publishes",
            id="manual publish jobs",
        ),
        pytest.param(
            files(),
            CONFIG,
            "web-fast",
            True,
            True,
            "1 runtime(s) have publish jobs",
            id="web-fast publishes only the web runtime",
        ),
        pytest.param(
            files(publish=("      - RUNTIME: web\n", "      - RUNTIME: [web, legacy]\n")),
            CONFIG,
            "standard",
            True,
            True,
            "publish: [legacy] publish a runtime that is not in scripts/ci/runtimes.sh",
            id="publish job for a runtime not in the matrix warns",
        ),
        pytest.param(
            files(
                ci=(
                    '    - if: $CI_COMMIT_BRANCH == "master" || $CI_COMMIT_BRANCH == "release/platform-control"\n',
                    '    - if: $CI_COMMIT_BRANCH == "master"\n',
                )
            ),
            CONFIG,
            "standard",
            False,
            False,
            ".gitlab-ci.yml: workflow:rules create no pipeline for release/platform-control",
            id="workflow rules exclude the release branch",
        ),
        pytest.param(
            files(templates=("    - !reference [.scripts, publish]\n", "    - !reference [.scripts, publish_all]\n")),
            CONFIG,
            "standard",
            False,
            False,
            "!reference ['.scripts', 'publish_all'] could not be found",
            id="dangling reference",
        ),
        pytest.param(
            files(publish=None),
            CONFIG,
            "standard",
            False,
            False,
            "Local file `/ci/publish.yml` does not exist!",
            id="missing local include",
        ),
        pytest.param(
            files(templates=("  extends: .base-job\n", "  extends: .publish-job\n")),
            CONFIG,
            "standard",
            False,
            False,
            "circular dependency detected in `extends`",
            id="circular extends",
        ),
        pytest.param(
            files(matrix=None),
            CONFIG,
            "standard",
            False,
            False,
            "no scripts/ci/runtimes.sh at the SHA",
            id="declared matrix missing",
        ),
        pytest.param(
            files(matrix=None),
            "publish_job: 'publish: [{runtime}]'\n",
            "standard",
            True,
            True,
            "not applicable: no runtimes declared (no scripts/ci/platform_control_runtime_matrix.sh at the SHA)",
            id="no matrix and no runtime settings",
        ),
        pytest.param(
            files(matrix="PLATFORM_CONTROL_RUNTIMES=(api $EXTRA)\n"),
            CONFIG,
            "standard",
            False,
            False,
            "'$EXTRA': runtimes must be literal names",
            id="matrix with an expansion",
        ),
    ],
)
def test_publish_and_fan_in_verdicts(repo, config, profile, publish_ok, fan_in_ok, expected):
    _, publish, fan_in = verdicts(repo, config, profile)
    assert (publish.ok, fan_in.ok) == (publish_ok, fan_in_ok), (publish.reason, fan_in.reason)
    assert expected in publish.reason + "\n" + fan_in.reason
    for verdict in (publish, fan_in):
        if not verdict.ok:
            assert "update the runtime matrix, the publish job graph and the digest fan-in together" in verdict.reason


# --- GitLab's merged configuration (CI Lint) against the offline reader ----------------------------------------

PROJECT_INCLUDE = ("  - local: /ci/publish.yml\n", "  - project: platform/platform-control\n    file: ci/publish.yml\n")
UNFETCHABLE = (
    "  - remote: https://gitlab.example.com/shared/ci/-/raw/main/security.yml\n  - template: Jobs/SAST.gitlab-ci.yml\n",
    "",
)


def _ci_with(include: tuple[str, str]) -> str:
    return ENTRY.replace(*UNFETCHABLE).replace(*include)


@pytest.fixture
def gitlab_at(tmp_path):
    """Starts a sandbox GitLab whose master holds `repo`; gives (sha, GitLabResource with `token`)."""
    servers = []

    def start(repo: dict[str, str], token: str = TOKEN):
        root = tmp_path / f"origin-{len(servers)}"
        root.mkdir()
        origin = Origin(root)
        sha = origin.commit(repo)
        server = SandboxGitLab(origin.path, TOKEN).start()
        servers.append(server)
        return sha, GitLabResource(url=server.url, project=PROJECT, token=token)

    yield start
    for server in servers:
        server.stop()


def lint_verdicts(repo: dict[str, str], sha: str, gitlab):
    scope = pipeline_scope(sha, "release/platform-control", "master", {"PLATFORM_CONTROL_RELEASE_MODE": "full"})
    facts = publish_facts(repo.get, load_release_config(CONFIG), scope, "standard", lambda: gitlab.ci_lint(sha))
    return facts, runtime_publish_jobs(facts)


def test_publish_jobs_from_a_project_include_are_seen_in_gitlabs_merged_configuration(gitlab_at):
    repo = files(ci=_ci_with(PROJECT_INCLUDE))
    offline, offline_verdict, _ = verdicts(repo)
    assert offline.unresolved_includes == ["project:platform/platform-control (ci/publish.yml)"]
    assert not offline_verdict.ok
    assert "platform/platform-control (ci/publish.yml), which pc-release does not fetch" in offline_verdict.reason

    sha, gitlab = gitlab_at(repo)
    facts, publish = lint_verdicts(repo, sha, gitlab)

    assert facts.status == "ok", facts.reason
    assert facts.unresolved_includes == [] and facts.ci_lint_unavailable == ""
    assert publish.ok, publish.reason
    # A job GitLab merged in from the project's own file is located in that file.
    assert publish.evidence["published"] == [
        f"{runtime}: publish: [{runtime}] (ci/publish.yml:2)"
        for runtime in ("api", "web", "worker", "terminal-gateway")
    ]


def test_a_configuration_gitlab_finds_invalid_blocks_with_gitlabs_error(gitlab_at):
    repo = files(ci=_ci_with((PROJECT_INCLUDE[0], PROJECT_INCLUDE[1].replace("ci/publish.yml", "ci/gone.yml"))))
    sha, gitlab = gitlab_at(repo)

    facts, publish = lint_verdicts(repo, sha, gitlab)

    assert facts.status == "broken"
    error = "Project `platform/platform-control` file `ci/gone.yml` does not exist!"
    assert facts.reason == f".gitlab-ci.yml: GitLab's CI Lint: {error}"
    assert not publish.ok and error in publish.reason


def test_without_gitlabs_lint_the_offline_reader_names_the_includes_it_did_not_read(gitlab_at):
    repo = files(ci=_ci_with(PROJECT_INCLUDE))
    sha, gitlab = gitlab_at(repo, token="not-the-token")

    facts, publish = lint_verdicts(repo, sha, gitlab)

    assert facts.unresolved_includes == ["project:platform/platform-control (ci/publish.yml)"]
    assert facts.ci_lint_unavailable.startswith(
        "GitLab's CI Lint was not available: [gitlab-auth] GitLab rejected the token"
    )
    assert not publish.ok
    assert "which pc-release does not fetch" in publish.reason
    assert "GitLab's CI Lint was not available" in publish.reason
    assert "not-the-token" not in publish.reason
