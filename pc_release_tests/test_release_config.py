"""Table-driven tests of `.pc-release.yaml` parsing, its error messages, and the runtime matrix parser."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from pc_release.errors import ConfigurationError
from pc_release.release_config import (
    DEFAULT_RELEASE_CONFIG,
    PC_STAGES,
    ReleaseConfig,
    ReleaseConfigError,
    RuntimeMatrixError,
    load_release_config,
    matches_any,
    parse_runtime_matrix,
)

SAMPLE_REPO = Path(__file__).resolve().parents[1] / "pc_release" / "sandbox" / "sample_repo"
SAMPLE_CONFIG = (SAMPLE_REPO / ".pc-release.yaml").read_text()
SAMPLE_MATRIX = (SAMPLE_REPO / "scripts" / "ci" / "platform_control_runtime_matrix.sh").read_text()


def test_defaults_describe_a_policy_shaped_repo() -> None:
    config = DEFAULT_RELEASE_CONFIG
    assert config.runtime_matrix == "scripts/ci/platform_control_runtime_matrix.sh"
    assert config.publish_job_for("terminal-gateway") == "publish:terminal-gateway"
    assert config.publish_filters == {}
    assert config.digest_artifact == "runtime-digest.env"
    assert config.digest_variable_for("terminal-gateway") == "PLATFORM_CONTROL_RUNTIME_DIGEST_TERMINAL_GATEWAY"
    assert config.dockerfile_for("api") == "runtimes/api/Dockerfile"
    assert config.web_runtimes == ["web"]
    assert config.stages == {
        "contracts": ["contracts"],
        "build_test": ["build-test"],
        "package": ["package"],
        "digest_fan_in": ["digest-fan-in"],
        "deployment": ["deploy"],
        "remote_validation": ["remote-validation"],
    }
    assert config.report_only_jobs == ["post-deploy-security-evidence", "post-deploy-runtime-evidence"]
    assert set(config.preflight.checks) == {"playwright_e2e", "role_authz_smoke"}
    assert config.preflight.checks["playwright_e2e"].report.format == "playwright-json"
    assert config.preflight.checks["role_authz_smoke"].report.format == "junit-xml"
    assert config.preflight.kind_parity.kind_overlay == "deploy/overlays/kind"
    assert config.preflight.kind_parity.platform_overlay == "deploy/overlays/platform-control"
    assert config.preflight.scoped_grep_env == "PLAYWRIGHT_GREP"
    assert config.database.schema_file == "db_schema_v1.sql"
    assert config.database.seed_file == "scripts/seed.sql"
    assert config.codegen is None


@pytest.mark.parametrize("text", ["", "# nothing configured yet\n", "---\n"])
def test_an_empty_file_means_the_defaults(text: str) -> None:
    assert load_release_config(text) == DEFAULT_RELEASE_CONFIG


def test_the_sample_file_sets_every_field() -> None:
    data = yaml.safe_load(SAMPLE_CONFIG)
    keys = {field.alias or name for name, field in ReleaseConfig.model_fields.items()}
    assert set(data) == keys

    config = load_release_config(SAMPLE_CONFIG)
    assert config.web_runtimes == ["web"]
    assert config.web_only_paths == ["frontend/", "runtimes/web/"]
    assert config.is_watched_path("runtimes/terminal-gateway/listener.py")
    assert config.is_watched_path("sdk/platform_control_sdk.py")
    assert config.runtime_config["terminal-gateway"].config_file == "runtimes/terminal-gateway/runtime.yaml"
    assert config.codegen is not None
    assert config.codegen.command == ["python3", "scripts/codegen.py"]
    assert config.codegen.generated_paths == ["sdk/platform_control_sdk.py"]
    assert config.preflight.kind_parity.is_allowed("secret", "kind-registry")
    assert not config.preflight.kind_parity.is_allowed("secret", "platform-control-db")
    assert config.preflight.checks["playwright_e2e"].report.path == "dist/preflight/playwright-report.json"
    assert config.pc_stage_for("platform_control_assemble_runtime_digests", "anything") == "digest_fan_in"
    assert config.is_web_fast_job("publish:web")
    assert not config.is_web_fast_job("publish:api")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "runtim_matrix: x.sh",
            ".pc-release.yaml: runtim_matrix: unknown field; did you mean 'runtime_matrix'?",
            id="unknown-top-level-key",
        ),
        pytest.param(
            "preflight: {kind_parity: {alow: []}}",
            ".pc-release.yaml: preflight.kind_parity.alow: unknown field; did you mean 'allow'?",
            id="unknown-nested-key",
        ),
        pytest.param(
            "preflight: {checks: {role_authz_smoke: {command: [x], report: {format: exit-code, pth: a}}}}",
            "preflight.checks.role_authz_smoke.report.pth: unknown field; did you mean 'path'?",
            id="unknown-key-under-a-dict-entry",
        ),
        pytest.param(
            "web_runtimes: web", ".pc-release.yaml: web_runtimes: must be a list (got 'web')", id="not-a-list"
        ),
        pytest.param(
            "schema: {schema_file: 3}",
            ".pc-release.yaml: schema.schema_file: must be a string (got 3)",
            id="not-a-string",
        ),
        pytest.param("preflight: [a]", ".pc-release.yaml: preflight: must be a mapping", id="not-a-mapping"),
        pytest.param(
            "preflight: {checks: {playwright_e2e: {command: [x], timeout_seconds: -5}}}",
            ".pc-release.yaml: preflight.checks.playwright_e2e.timeout_seconds: must be > 0",
            id="negative-timeout",
        ),
        pytest.param(
            "preflight: {checks: {playwright_e2e: {command: [x], timeout_seconds: 0}}}",
            "preflight.checks.playwright_e2e.timeout_seconds: must be > 0",
            id="zero-timeout",
        ),
        pytest.param(
            "preflight: {checks: {playwright_e2e: {command: [x], timeout_seconds: soon}}}",
            "preflight.checks.playwright_e2e.timeout_seconds: must be a number (got 'soon')",
            id="timeout-not-a-number",
        ),
        pytest.param(
            "preflight: {checks: {playwright_e2e: {command: [x], report: {format: playwright-json}}}}",
            "preflight.checks.playwright_e2e.report: path is required for report format playwright-json",
            id="playwright-json-without-path",
        ),
        pytest.param(
            "preflight: {checks: {role_authz_smoke: {command: [x], report: {format: junit-xml}}}}",
            "preflight.checks.role_authz_smoke.report: path is required for report format junit-xml",
            id="junit-without-path",
        ),
        pytest.param(
            "preflight: {checks: {role_authz_smoke: {command: [x], report: {format: tap, path: a}}}}",
            "report.format: must be one of 'playwright-json', 'junit-xml' or 'exit-code'",
            id="unknown-report-format",
        ),
        pytest.param(
            "preflight: {checks: {playwright_e2e: {command: []}}}",
            "preflight.checks.playwright_e2e.command: must not be empty",
            id="empty-command",
        ),
        pytest.param(
            "preflight: {checks: {playwrite_e2e: {command: [x]}}}",
            "preflight.checks: unknown check playwrite_e2e (known: playwright_e2e, role_authz_smoke)",
            id="unknown-check",
        ),
        pytest.param(
            "preflight: {environment_drift_signatures: [ok, '(unclosed']}",
            "preflight.environment_drift_signatures.1: '(unclosed' is not a valid regular expression",
            id="bad-regex",
        ),
        pytest.param(
            "preflight: {kind_parity: {allow: ['env:DEBUG', 'DEBUG_TOOLBAR']}}",
            "preflight.kind_parity.allow.1: 'DEBUG_TOOLBAR' is not <kind>:<name>",
            id="untyped-allow-entry",
        ),
        pytest.param(
            "preflight: {kind_parity: {allow: ['configmap-key:KIND_ONLY']}}",
            "preflight.kind_parity.allow.0: 'configmap-key:KIND_ONLY' must name both parts",
            id="configmap-key-without-configmap",
        ),
        pytest.param(
            "stages: {deploy: [deploy]}",
            ".pc-release.yaml: stages: unknown stage key deploy (known: contracts, build_test",
            id="unknown-stage-key",
        ),
        pytest.param(
            "stages: {package: [build], build_test: [build]}",
            "stages: GitLab stage 'build' is mapped to both",
            id="gitlab-stage-mapped-twice",
        ),
        pytest.param(
            "job_stage_overrides: {smoke: remote-validation}",
            "job_stage_overrides: job 'smoke' maps to unknown stage key 'remote-validation'",
            id="override-to-unknown-stage",
        ),
        pytest.param(
            "publish_job: publish", ".pc-release.yaml: publish_job: must contain {runtime}", id="publish-job-pattern"
        ),
        pytest.param(
            "digest_variable: DIGEST_{runtime}",
            ".pc-release.yaml: digest_variable: must contain {RUNTIME}",
            id="digest-variable-pattern",
        ),
        pytest.param(
            "codegen: {command: [python3, gen.py]}",
            ".pc-release.yaml: codegen.generated_paths: required field is missing",
            id="codegen-without-outputs",
        ),
        pytest.param(
            "runtime_config: {terminal-gateway: {manifests: [a.yaml]}}",
            "runtime_config.terminal-gateway.config_file: required field is missing",
            id="runtime-config-without-file",
        ),
        pytest.param("- a\n- b\n", ".pc-release.yaml: must be a mapping of settings, got list", id="top-level-list"),
        pytest.param("publish_job: a\nstages: {a: [b}\n", ".pc-release.yaml: invalid YAML: line 2", id="invalid-yaml"),
    ],
)
def test_bad_config_names_the_file_and_the_field(text: str, expected: str) -> None:
    with pytest.raises(ReleaseConfigError) as raised:
        load_release_config(text)
    assert expected in str(raised.value)


def test_exit_code_report_needs_no_path() -> None:
    text = "preflight: {checks: {role_authz_smoke: {command: [make, smoke], report: {format: exit-code}}}}"
    check = load_release_config(text).preflight.checks["role_authz_smoke"]
    assert check.report.path is None
    assert check.cwd == "."
    assert check.env == {}
    assert check.timeout_seconds == 600


def test_every_problem_is_reported_at_once_under_the_given_source() -> None:
    text = "runtime_matrx: a\nweb_runtimes: web\npublish_job: publish\n"
    with pytest.raises(ReleaseConfigError) as raised:
        load_release_config(text, source="release/platform-control@abc123:.pc-release.yaml")
    problems = raised.value.problems
    assert len(problems) == 3
    assert all(p.startswith("release/platform-control@abc123:.pc-release.yaml: ") for p in problems)
    assert isinstance(raised.value, ValueError)
    assert isinstance(raised.value, ConfigurationError)
    assert raised.value.rule == "release-config"


def test_stage_keys_left_out_keep_their_defaults_and_overrides_win() -> None:
    config = load_release_config(
        "stages: {deployment: [deploy, rollout]}\njob_stage_overrides: {post-deploy-runtime-evidence: deployment}\n"
    )
    assert list(config.stages) == list(PC_STAGES)
    assert config.stages["deployment"] == ["deploy", "rollout"]
    assert config.stages["contracts"] == ["contracts"]
    assert config.pc_stage_for("rollout", "rollout") == "deployment"
    assert config.pc_stage_for("post-deploy-runtime-evidence", "remote-validation") == "deployment"
    assert config.pc_stage_for("lint", ".pre") is None


def test_dockerfiles_override_the_default_location() -> None:
    config = load_release_config("dockerfiles: {web: docker/web.Dockerfile}")
    assert config.dockerfile_for("web") == "docker/web.Dockerfile"
    assert config.dockerfile_for("worker") == "runtimes/worker/Dockerfile"


def test_config_is_frozen() -> None:
    with pytest.raises(ValidationError):
        DEFAULT_RELEASE_CONFIG.publish_job = "ship:{runtime}"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "patterns", "expected"),
    [
        ("frontend/src/app.mjs", ["frontend/"], True),
        ("frontendx/app.mjs", ["frontend/"], False),
        ("runtimes/web/Dockerfile", ["runtimes/web/"], True),
        ("runtimes/api/Dockerfile", ["frontend/", "runtimes/web/"], False),
        ("frontend/e2e/roles.spec.js", ["frontend/*.spec.js"], True),
        ("publish:web", ["publish:*"], True),
        ("db_schema_v1.sql", ["db_schema_v1.sql"], True),
        ("db_schema_v1.sql.bak", ["db_schema_v1.sql"], False),
        ("anything", [], False),
    ],
)
def test_matches_any(value: str, patterns: list[str], expected: bool) -> None:
    assert matches_any(value, patterns) is expected


@pytest.mark.parametrize(
    ("output", "drift"),
    [
        ("browserType.launch: Failed to launch chromium because executable doesn't exist at /usr/bin/x", True),
        ("Error: connect ECONNREFUSED 127.0.0.1:5432", True),
        ("dial tcp 127.0.0.1:6443: connect: connection refused", True),
        ("The connection to the server 127.0.0.1:6443 was refused - did you specify the right host?", True),
        ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", True),
        ("Error: Timed out waiting 20000ms from config.webServer.", True),
        ("page.goto: Timeout 30000ms exceeded navigating to http://localhost:3000/admin", True),
        ("Error: Cannot find module '@playwright/test'", True),
        ("expect(received).toHaveText(expected) Expected: 'Admin access required'", False),
        ("AssertionError: list as victor answered 200, expected 403", False),
    ],
)
def test_default_drift_signatures(output: str, drift: bool) -> None:
    assert (DEFAULT_RELEASE_CONFIG.preflight.environment_drift_match(output) is not None) is drift


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "PLATFORM_CONTROL_RUNTIMES=(api web worker terminal-gateway)\n",
            ["api", "web", "worker", "terminal-gateway"],
            id="one-line",
        ),
        pytest.param(
            "# runtimes\nPLATFORM_CONTROL_RUNTIMES=(\n  api   # REST\n  # web is next\n  web\n)\n",
            ["api", "web"],
            id="multi-line-with-comments",
        ),
        pytest.param("PLATFORM_CONTROL_RUNTIMES=(\"api\" 'web')", ["api", "web"], id="quoted"),
        pytest.param("declare -a PLATFORM_CONTROL_RUNTIMES=(api)\n", ["api"], id="declare"),
        pytest.param("readonly PLATFORM_CONTROL_RUNTIMES=(api worker)\n", ["api", "worker"], id="readonly"),
        pytest.param(
            "PLATFORM_CONTROL_RUNTIMES=(api)\nPLATFORM_CONTROL_RUNTIMES+=(terminal-gateway)\n",
            ["api", "terminal-gateway"],
            id="append",
        ),
        pytest.param("PLATFORM_CONTROL_RUNTIMES=(old)\nPLATFORM_CONTROL_RUNTIMES=(api)\n", ["api"], id="reassigned"),
        pytest.param(
            "# PLATFORM_CONTROL_RUNTIMES=(legacy)\n"
            "PLATFORM_CONTROL_RUNTIMES=(api)\n"
            "PLATFORM_CONTROL_WEB_RUNTIMES=(web)\n",
            ["api"],
            id="commented-and-other-arrays-ignored",
        ),
        pytest.param(SAMPLE_MATRIX, ["api", "web", "worker", "terminal-gateway"], id="sample-repo"),
    ],
)
def test_parse_runtime_matrix(text: str, expected: list[str]) -> None:
    assert parse_runtime_matrix(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("RUNTIMES=(api)\n", "no PLATFORM_CONTROL_RUNTIMES=( ... ) array found", id="missing"),
        pytest.param("PLATFORM_CONTROL_RUNTIMES=(api web\n", "unterminated", id="unterminated"),
        pytest.param("PLATFORM_CONTROL_RUNTIMES=(api $EXTRA)\n", "must be literal names", id="expansion"),
        pytest.param("PLATFORM_CONTROL_RUNTIMES=(api web api)\n", "runtime listed twice: api", id="duplicate"),
        pytest.param("PLATFORM_CONTROL_RUNTIMES=()\n", "is empty", id="empty"),
        pytest.param("PLATFORM_CONTROL_RUNTIMES=(Api)\n", "'Api' is not a runtime name", id="bad-name"),
    ],
)
def test_parse_runtime_matrix_errors(text: str, message: str) -> None:
    with pytest.raises(RuntimeMatrixError) as raised:
        parse_runtime_matrix(text)
    assert message in str(raised.value)


def test_runtime_containers_name_a_runtimes_own_container() -> None:
    config = load_release_config("runtime_containers: {api: server}")
    assert (config.container_for("api"), config.container_for("web")) == ("server", "web")
