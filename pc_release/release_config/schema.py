"""The schema of `.pc-release.yaml`: its settings as pydantic models, with their defaults and validators."""

from __future__ import annotations

import fnmatch
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from pc_release.policy.preflight import PLAYWRIGHT_E2E, ROLE_AUTHZ_SMOKE
from pc_release.release_config.runtime_matrix import RUNTIME_MATRIX_VARIABLE

RELEASE_CONFIG_PATH = ".pc-release.yaml"

# The pc-release stage keys a GitLab pipeline is watched by, in pipeline order.
PC_STAGES = ("contracts", "build_test", "package", "digest_fan_in", "deployment", "remote_validation")

# The command checks a preflight runs; each is configured under its gate's name.
PREFLIGHT_CHECKS = (PLAYWRIGHT_E2E, ROLE_AUTHZ_SMOKE)

# Kinds of kind-vs-platform overlay differences that may be declared intentional.
KIND_PARITY_ALLOW_KINDS = ("env", "configmap-key", "secret", "configmap", "deployment", "container")


def matches_any(value: str, patterns: list[str]) -> bool:
    """True when `value` (a repo path or a job name) is covered by one of `patterns`.

    A pattern ending in "/" covers everything under that directory; any other pattern is an fnmatch glob
    matched against the whole value, where "*" also crosses "/" (so "frontend/*" covers nested files).
    """
    for pattern in patterns:
        if pattern.endswith("/"):
            if value.startswith(pattern):
                return True
        elif fnmatch.fnmatchcase(value, pattern):
            return True
    return False


def _check_allow_entry(entry: str) -> str:
    kind, sep, name = entry.partition(":")
    if not sep or not name or kind not in KIND_PARITY_ALLOW_KINDS:
        raise ValueError(f"{entry!r} is not <kind>:<name> with kind one of {', '.join(KIND_PARITY_ALLOW_KINDS)}")
    if kind in ("configmap-key", "container") and name.count("/") != 1:
        raise ValueError(f"{entry!r} must name both parts as {kind}:<owner>/<name>")
    return entry


def _check_regex(signature: str) -> str:
    try:
        re.compile(signature)
    except re.error as err:
        raise ValueError(f"{signature!r} is not a valid regular expression: {err}") from err
    return signature


AllowEntry = Annotated[str, AfterValidator(_check_allow_entry)]
DriftSignature = Annotated[str, AfterValidator(_check_regex)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReportSpec(_Frozen):
    format: Literal["playwright-json", "junit-xml", "exit-code"] = Field(
        "exit-code",
        description="How the check's outcome is read: a Playwright JSON report, a JUnit XML report, or only "
        "the command's exit code.",
    )
    path: str | None = Field(
        None,
        description="Report file the command writes, relative to the repository root; required unless "
        "format is exit-code.",
    )

    @model_validator(mode="after")
    def _path_required_for_reports(self) -> ReportSpec:
        if self.format != "exit-code" and not self.path:
            raise ValueError(f"path is required for report format {self.format}")
        return self


class CommandCheck(_Frozen):
    command: list[str] = Field(
        min_length=1, description="argv of the check, run without a shell from `cwd` in the candidate tree."
    )
    cwd: str = Field(".", description="Working directory, relative to the repository root.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables for the command.")
    timeout_seconds: float = Field(
        600, gt=0, description="Wall-clock limit; a check still running then is killed and fails."
    )
    report: ReportSpec = Field(default_factory=ReportSpec, description="Where the check's verdict is read.")


class KindParityConfig(_Frozen):
    kind_overlay: str = Field(
        "deploy/overlays/kind", description="Directory of the kind (local cluster) Kubernetes overlay."
    )
    platform_overlay: str = Field(
        "deploy/overlays/platform-control",
        description="Directory of the platform-control Kubernetes overlay the kind one must mirror.",
    )
    allow: list[AllowEntry] = Field(
        default_factory=list,
        description='Intentional differences, "<kind>:<name>": env:NAME, configmap-key:CONFIGMAP/KEY, '
        "secret:NAME, configmap:NAME, deployment:NAME, container:DEPLOYMENT/CONTAINER.",
    )

    def is_allowed(self, kind: str, name: str) -> bool:
        """True when the difference `kind`/`name` is declared intentional."""
        return f"{kind}:{name}" in self.allow


DEFAULT_ENVIRONMENT_DRIFT_SIGNATURES = [
    r"(?i)executable doesn't exist at",
    r"Failed to launch (chromium|chrome|firefox|webkit)",
    r"browserType\.launch: .*(ENOENT|No such file or directory)",
    r"Cannot find module ['\"]@playwright/test['\"]",
    r"ECONNREFUSED",
    r"(?i)connection refused",
    r"The connection to the server \S+ was refused",
    r"Unable to connect to the server",
    r"(?i)cluster (is )?unreachable",
    r"Cannot connect to the Docker daemon",
    r"Timed out waiting \d+ms from config\.webServer",
    r"(?i)time(d)? ?out\b.*\b(localhost|127\.0\.0\.1)\b",
]


class PreflightConfig(_Frozen):
    checks: dict[str, CommandCheck] = Field(
        default_factory=lambda: {
            PLAYWRIGHT_E2E: CommandCheck(
                command=["bash", "scripts/ci/platform_control_e2e.sh"],
                env={"PLAYWRIGHT_JSON_OUTPUT_NAME": "dist/preflight/playwright-report.json"},
                timeout_seconds=900,
                report=ReportSpec(format="playwright-json", path="dist/preflight/playwright-report.json"),
            ),
            ROLE_AUTHZ_SMOKE: CommandCheck(
                command=[
                    "python3",
                    "scripts/ci/platform_control_role_authz_smoke.py",
                    "dist/preflight/role-authz-smoke.xml",
                ],
                timeout_seconds=300,
                report=ReportSpec(format="junit-xml", path="dist/preflight/role-authz-smoke.xml"),
            ),
        },
        description="Command checks of the local preflight, by name: playwright_e2e, role_authz_smoke.",
    )
    kind_parity: KindParityConfig = Field(
        default_factory=KindParityConfig, description="The kind-vs-platform overlay parity check."
    )
    environment_drift_signatures: list[DriftSignature] = Field(
        default_factory=lambda: list(DEFAULT_ENVIRONMENT_DRIFT_SIGNATURES),
        description="Regular expressions (re.search over a failed check's output and report) that mark the "
        "failure as local-environment drift rather than a release blocker.",
    )
    scoped_grep_env: str = Field(
        "PLAYWRIGHT_GREP",
        description="Environment variable through which a scoped (debugging) e2e run passes its grep.",
    )

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, checks: dict[str, CommandCheck]) -> dict[str, CommandCheck]:
        unknown = sorted(set(checks) - set(PREFLIGHT_CHECKS))
        if unknown:
            raise ValueError(f"unknown check {', '.join(unknown)} (known: {', '.join(PREFLIGHT_CHECKS)})")
        return checks

    def environment_drift_match(self, text: str) -> str | None:
        """The first drift signature found in `text`, or None when the failure looks like a real defect."""
        for signature in self.environment_drift_signatures:
            if re.search(signature, text, re.MULTILINE):
                return signature
        return None


class RuntimeConfigSpec(_Frozen):
    manifests: list[str] = Field(
        min_length=1,
        description="Kubernetes manifests of the runtime; every configMapKeyRef key in them must exist.",
    )
    config_file: str = Field(
        description="The runtime's config file whose top-level keys the manifests' config keys must be."
    )


class CodegenConfig(_Frozen):
    command: list[str] = Field(min_length=1, description="argv regenerating every generated artifact.")
    generated_paths: list[str] = Field(
        min_length=1, description="Committed files the command writes; they must be unchanged after it runs."
    )


class SchemaConfig(_Frozen):
    schema_file: str = Field("db_schema_v1.sql", description="Idempotent PostgreSQL schema, applied on deploy.")
    seed_file: str = Field("scripts/seed.sql", description="Seed data, applied after the schema.")


_DEFAULT_STAGES = {
    "contracts": ["contracts"],
    "build_test": ["build-test"],
    "package": ["package"],
    "digest_fan_in": ["digest-fan-in"],
    "deployment": ["deploy"],
    "remote_validation": ["remote-validation"],
}


class ReleaseConfig(_Frozen):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True)

    runtime_matrix: str = Field(
        "scripts/ci/platform_control_runtime_matrix.sh",
        description=f"Bash script declaring {RUNTIME_MATRIX_VARIABLE}=(...), the runtimes to publish.",
    )
    publish_job: str = Field(
        "publish:{runtime}", description="Name pattern of each runtime's publish job; must contain {runtime}."
    )
    publish_filters: dict[str, str] = Field(
        default_factory=dict,
        description="Runtime -> reason it is intentionally not published (no publish job expected).",
    )
    digest_artifact: str = Field(
        "runtime-digest.env", description="Dotenv artifact in which a publish job reports its runtime digest."
    )
    digest_variable: str = Field(
        "PLATFORM_CONTROL_RUNTIME_DIGEST_{RUNTIME}",
        description="Digest variable name pattern; {RUNTIME} is the runtime upper-cased with '-' as '_'.",
    )
    web_runtimes: list[str] = Field(
        default_factory=lambda: ["web"], description="Runtimes a web-fast release publishes and deploys."
    )
    web_only_paths: list[str] = Field(
        default_factory=lambda: ["frontend/", "runtimes/web/"],
        description="Paths (dir/ prefixes or globs) a change may touch and still be released as web-fast.",
    )
    stages: dict[str, list[str]] = Field(
        default_factory=lambda: {key: list(names) for key, names in _DEFAULT_STAGES.items()},
        description="pc-release stage key -> GitLab stage names; keys left out keep their defaults.",
    )
    job_stage_overrides: dict[str, str] = Field(
        default_factory=dict, description="GitLab job name -> pc-release stage key, winning over `stages`."
    )
    report_only_jobs: list[str] = Field(
        default_factory=lambda: ["post-deploy-security-evidence", "post-deploy-runtime-evidence"],
        description="Post-deploy report-only evidence jobs (names or globs); skipped in deploy mode.",
    )
    optional_release_jobs: list[str] = Field(
        default_factory=list,
        description="Deploy or remote-validation jobs (names or globs) a release may go without, e.g. a manual "
        "production smoke test; every other job of those stages must have run and passed.",
    )
    web_fast_jobs: list[str] = Field(
        default_factory=lambda: [
            "openapi-contract",
            "asyncapi-contract",
            "release-branch-guard",
            "frontend-test",
            "publish:web",
            "platform_control_assemble_runtime_digests",
            "deploy-manifests",
            "rollout",
            "web-smoke",
        ],
        description="Jobs (names or globs) a web-fast release pipeline is expected to run, and no others.",
    )
    preflight: PreflightConfig = Field(
        default_factory=PreflightConfig, description="The local preflight: command checks and kind parity."
    )
    # The defaults cover each of the policy's incident classes: runtime files, config keys (config/, deploy/),
    # generated artifacts (api/, sdk/), tests and test helpers, schema and seed.
    watched_paths: list[str] = Field(
        default_factory=lambda: [
            "runtimes/",
            "config/",
            "scripts/ci/",
            "api/",
            "sdk/",
            "deploy/",
            "db_schema_v1.sql",
            "scripts/seed.sql",
            "frontend/e2e/",
            "frontend/unit/",
            "tests/",
        ],
        description="Paths (dir/ prefixes or globs) that must never be lost on release: runtime files, "
        "config, generated artifacts, tests.",
    )
    runtime_required_files: dict[str, list[str]] = Field(
        default_factory=dict, description="Runtime -> files that must exist in the candidate tree."
    )
    runtime_config: dict[str, RuntimeConfigSpec] = Field(
        default_factory=dict, description="Runtime -> manifests and the config file their keys must exist in."
    )
    codegen: CodegenConfig | None = Field(
        None, description="The generator of committed artifacts; None when the repo generates nothing."
    )
    database: SchemaConfig = Field(
        default_factory=SchemaConfig, alias="schema", description="Schema and seed SQL files."
    )
    dockerfiles: dict[str, str] = Field(
        default_factory=dict,
        description="Runtime -> Dockerfile path, for runtimes not at runtimes/{runtime}/Dockerfile.",
    )
    runtime_containers: dict[str, str] = Field(
        default_factory=dict,
        description="Runtime -> name of its own container in its pods, for runtimes whose container is not named "
        "after the runtime; image conformance compares only that container (never sidecars or init containers).",
    )

    @field_validator("publish_job")
    @classmethod
    def _publish_job_names_runtime(cls, pattern: str) -> str:
        if "{runtime}" not in pattern:
            raise ValueError("must contain {runtime}")
        return pattern

    @field_validator("digest_variable")
    @classmethod
    def _digest_variable_names_runtime(cls, pattern: str) -> str:
        if "{RUNTIME}" not in pattern:
            raise ValueError("must contain {RUNTIME}")
        return pattern

    @field_validator("stages")
    @classmethod
    def _stages_cover_pc_stages(cls, stages: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(stages) - set(PC_STAGES))
        if unknown:
            raise ValueError(f"unknown stage key {', '.join(unknown)} (known: {', '.join(PC_STAGES)})")
        merged = {key: list(stages.get(key, _DEFAULT_STAGES[key])) for key in PC_STAGES}
        owners: dict[str, str] = {}
        for key, names in merged.items():
            for name in names:
                if name in owners and owners[name] != key:
                    raise ValueError(f"GitLab stage {name!r} is mapped to both {owners[name]} and {key}")
                owners[name] = key
        return merged

    @field_validator("job_stage_overrides")
    @classmethod
    def _overrides_name_pc_stages(cls, overrides: dict[str, str]) -> dict[str, str]:
        for job, key in overrides.items():
            if key not in PC_STAGES:
                raise ValueError(f"job {job!r} maps to unknown stage key {key!r} (known: {', '.join(PC_STAGES)})")
        return overrides

    def publish_job_for(self, runtime: str) -> str:
        return self.publish_job.format(runtime=runtime)

    def digest_variable_for(self, runtime: str) -> str:
        return self.digest_variable.format(RUNTIME=runtime.upper().replace("-", "_"))

    def dockerfile_for(self, runtime: str) -> str:
        return self.dockerfiles.get(runtime, f"runtimes/{runtime}/Dockerfile")

    def container_for(self, runtime: str) -> str:
        return self.runtime_containers.get(runtime, runtime)

    def pc_stage_for(self, job_name: str, gitlab_stage: str) -> str | None:
        """The pc-release stage a GitLab job belongs to, or None when its stage is not watched."""
        if job_name in self.job_stage_overrides:
            return self.job_stage_overrides[job_name]
        for key, names in self.stages.items():
            if gitlab_stage in names:
                return key
        return None

    def is_web_only_path(self, path: str) -> bool:
        return matches_any(path, self.web_only_paths)

    def is_watched_path(self, path: str) -> bool:
        return matches_any(path, self.watched_paths)

    def is_web_fast_job(self, job_name: str) -> bool:
        return matches_any(job_name, self.web_fast_jobs)

    def is_report_only_job(self, job_name: str) -> bool:
        return matches_any(job_name, self.report_only_jobs)

    def is_optional_release_job(self, job_name: str) -> bool:
        return matches_any(job_name, self.optional_release_jobs)


DEFAULT_RELEASE_CONFIG = ReleaseConfig()
