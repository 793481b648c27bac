"""The sandbox's sample platform-control repo really works: its CI jobs, preflight checks and Playwright suite
run offline, and its `.pc-release.yaml` describes it truthfully."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from pc_release.dotenv import parse_dotenv_report
from pc_release.release_config import load_release_config, parse_runtime_matrix
from pc_release.sandbox.sample import (
    RELEASE_BRANCH,
    SAMPLE_REPO_TEMPLATE,
    create_sample_origin,
    materialize_sample_repo,
)

NODE_DIR = Path(__file__).resolve().parents[2] / "pc_release" / "sandbox" / "node"
CHROMIUM = Path(os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE", "/usr/bin/chromium"))
RUNTIMES = ["api", "web", "worker", "terminal-gateway"]
SHA = "3f2a9c1d5e7b8a6f4c3d2e1f0a9b8c7d6e5f4a3b"
TEMPLATE_CI = yaml.safe_load((SAMPLE_REPO_TEMPLATE / ".gitlab-ci.yml").read_text())
JOB_NAMES = [
    name for name in TEMPLATE_CI if not name.startswith(".") and name not in ("stages", "variables", "workflow")
]


def resolve_job(ci: dict, name: str) -> dict:
    """A job with its `extends` chain merged in (later parents and the job itself win, as in GitLab)."""
    job = ci[name]
    parents = job.get("extends", [])
    merged: dict = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged.update(resolve_job(ci, parent))
    merged.update({key: value for key, value in job.items() if key != "extends"})
    return merged


def stage_of(name: str) -> str:
    return resolve_job(TEMPLATE_CI, name)["stage"]


def rule_matches(expression: str, variables: dict[str, str]) -> bool:
    """The subset of GitLab rule expressions the sample uses: `$VAR == "x"`, `!=`, joined by `&&`."""
    for clause in expression.split("&&"):
        match = re.fullmatch(r'\s*\$(\w+) (==|!=) "([^"]*)"\s*', clause)
        assert match, f"unsupported rule expression: {expression}"
        if (variables.get(match[1], "") == match[3]) != (match[2] == "=="):
            return False
    return True


def pipeline_jobs(variables: dict[str, str]) -> set[str]:
    """Jobs a pipeline with these variables would contain (first matching rule decides, as in GitLab)."""
    variables = {**TEMPLATE_CI["variables"], **variables}
    selected = set()
    for name in JOB_NAMES:
        rules = resolve_job(TEMPLATE_CI, name).get("rules")
        if rules is None:
            selected.add(name)
            continue
        for rule in rules:
            if "if" not in rule or rule_matches(rule["if"], variables):
                if rule.get("when", "on_success") != "never":
                    selected.add(name)
                break
    return selected


def tool_env(**extra: str) -> dict[str, str]:
    """The environment of a CI job: this interpreter's python3 (it has PyYAML) first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "PATH": path, "PYTHONDONTWRITEBYTECODE": "1", **extra}


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env or tool_env(), capture_output=True, text=True, timeout=timeout)


def run_job(repo: Path, name: str, variables: dict[str, str]) -> subprocess.CompletedProcess:
    job = resolve_job(yaml.safe_load((repo / ".gitlab-ci.yml").read_text()), name)
    script = "\n".join([*job.get("before_script", []), *job["script"]])
    env = tool_env(CI_JOB_NAME=name, CI_PROJECT_DIR=str(repo), **variables, **job.get("variables", {}))
    return run(["bash", "-ec", script], repo, env)


def read_dotenv(path: Path) -> dict[str, str]:
    """A dotenv report the sample wrote, read with GitLab's rules (an invalid one would fail its job on GitLab)."""
    return parse_dotenv_report(path.read_bytes())


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return materialize_sample_repo(tmp_path_factory.mktemp("sample") / "platform-control")


@pytest.fixture(scope="module")
def config(sample: Path):
    return load_release_config((sample / ".pc-release.yaml").read_text())


def test_materialize_copies_the_template_with_executable_scripts(tmp_path: Path) -> None:
    dest = materialize_sample_repo(tmp_path / "tree")
    assert dest == tmp_path / "tree"
    assert not (dest / ".git").exists()
    for script in [
        "scripts/ci/platform_control_e2e.sh",
        "scripts/ci/platform_control_runtime_matrix.sh",
        "scripts/codegen.py",
    ]:
        assert os.access(dest / script, os.X_OK), script
    template_files = {p.relative_to(SAMPLE_REPO_TEMPLATE) for p in SAMPLE_REPO_TEMPLATE.rglob("*") if p.is_file()}
    copied = {p.relative_to(dest) for p in dest.rglob("*") if p.is_file()}
    assert copied <= template_files
    assert {Path(".pc-release.yaml"), Path(".gitlab-ci.yml"), Path("runtimes/terminal-gateway/listener.py")} <= copied


def test_create_sample_origin_pushes_master_and_the_release_branch(tmp_path: Path) -> None:
    origin, clone = create_sample_origin(tmp_path)
    assert (origin, clone) == (tmp_path / "origin.git", tmp_path / "clone")

    def git(repo: Path, *args: str) -> str:
        return run(["git", *args], repo).stdout.strip()

    master = git(origin, "rev-parse", "refs/heads/master")
    assert git(origin, "rev-parse", f"refs/heads/{RELEASE_BRANCH}") == master
    assert git(clone, "rev-parse", "HEAD") == master
    assert git(clone, "rev-list", "--count", "HEAD") == "1"
    assert git(clone, "status", "--porcelain") == ""
    assert git(clone, "rev-parse", "--abbrev-ref", "master@{upstream}") == "origin/master"
    assert git(origin, "symbolic-ref", "HEAD") == "refs/heads/master"
    assert git(clone, "config", "user.email")
    modes = git(clone, "ls-files", "-s", "scripts/ci/platform_control_e2e.sh")
    assert modes.startswith("100755")


def test_release_config_describes_the_sample_truthfully(sample: Path, config) -> None:
    matrix = parse_runtime_matrix((sample / config.runtime_matrix).read_text())
    assert matrix == RUNTIMES
    listed = run(["bash", config.runtime_matrix], sample, tool_env(PLATFORM_CONTROL_RELEASE_PROFILE="web-fast"))
    assert listed.stdout.split() == config.web_runtimes

    referenced = [config.runtime_matrix, config.database.schema_file, config.database.seed_file]
    referenced += [config.dockerfile_for(runtime) for runtime in matrix]
    referenced += [path for files in config.runtime_required_files.values() for path in files]
    referenced += [spec.config_file for spec in config.runtime_config.values()]
    referenced += [manifest for spec in config.runtime_config.values() for manifest in spec.manifests]
    referenced += config.codegen.generated_paths
    referenced += [config.preflight.kind_parity.kind_overlay, config.preflight.kind_parity.platform_overlay]
    assert [path for path in referenced if not (sample / path).exists()] == []

    for runtime in matrix:
        assert config.publish_job_for(runtime) in JOB_NAMES
    assert TEMPLATE_CI["stages"] == [name for names in config.stages.values() for name in names]
    assert set(config.report_only_jobs) <= set(JOB_NAMES)

    for spec in config.runtime_config.values():
        keys = set(yaml.safe_load((sample / spec.config_file).read_text()))
        for manifest in spec.manifests:
            text = (sample / manifest).read_text()
            refs = set(re.findall(r"configMapKeyRef:\s+name: \S+\s+key: (\S+)", text))
            assert refs, manifest
            assert refs <= keys, f"{manifest} references {refs - keys} missing from {spec.config_file}"


def test_oci_labels_are_in_every_final_stage(sample: Path, config) -> None:
    for runtime in RUNTIMES:
        final_stage = re.split(r"(?m)^FROM ", (sample / config.dockerfile_for(runtime)).read_text())[-1]
        for label, arg in [("version", "VERSION"), ("revision", "REVISION"), ("created", "CREATED")]:
            assert f"org.opencontainers.image.{label}=${arg}" in final_stage, (runtime, label)
            assert re.search(rf"(?m)^ARG {arg}\b", final_stage), (runtime, arg)
    assert (sample / "runtimes/api/Dockerfile").read_text().count("FROM ") == 2


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        pytest.param(
            {"CI_COMMIT_BRANCH": "master"},
            {name for name in JOB_NAMES if stage_of(name) in ("contracts", "build-test")} - {"release-branch-guard"},
            id="master",
        ),
        pytest.param({"CI_COMMIT_BRANCH": RELEASE_BRANCH}, set(JOB_NAMES), id="release-full"),
        pytest.param(
            {"CI_COMMIT_BRANCH": RELEASE_BRANCH, "PLATFORM_CONTROL_RELEASE_MODE": "deploy"},
            set(JOB_NAMES) - {"post-deploy-security-evidence", "post-deploy-runtime-evidence"},
            id="release-deploy-mode",
        ),
    ],
)
def test_pipeline_rules(variables: dict[str, str], expected: set[str]) -> None:
    assert pipeline_jobs(variables) == expected


def test_web_fast_pipeline_runs_exactly_the_declared_web_fast_jobs(config) -> None:
    selected = pipeline_jobs({"CI_COMMIT_BRANCH": RELEASE_BRANCH, "PLATFORM_CONTROL_RELEASE_PROFILE": "web-fast"})
    assert selected == set(config.web_fast_jobs)


def test_sdk_is_what_codegen_generates(sample: Path, tmp_path: Path, config) -> None:
    fresh = tmp_path / "sdk.py"
    result = run(["python3", "scripts/codegen.py", "--output", str(fresh)], sample)
    assert result.returncode == 0, result.stderr
    assert fresh.read_text() == (sample / "sdk/platform_control_sdk.py").read_text()


@pytest.mark.parametrize(
    "job",
    [name for name in JOB_NAMES if stage_of(name) in ("contracts", "build-test") and name != "release-branch-guard"],
)
def test_contract_and_build_test_jobs_pass(sample: Path, job: str) -> None:
    result = run_job(sample, job, {"CI_COMMIT_SHA": SHA, "CI_COMMIT_BRANCH": "master"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"[{job}] source {SHA}" in result.stdout


def test_release_pipeline_publishes_fans_in_deploys_and_validates(sample: Path, tmp_path: Path) -> None:
    variables = {
        "CI_COMMIT_SHA": SHA,
        "CI_COMMIT_BRANCH": RELEASE_BRANCH,
        "CI_PIPELINE_ID": "41",
        "PLATFORM_CONTROL_RELEASE_MODE": "full",
        "PLATFORM_CONTROL_RELEASE_PROFILE": "standard",
        "PC_SANDBOX_ENVIRONMENT_DIR": str(tmp_path / "environment"),
    }
    traces = {}
    for stage in ("package", "digest-fan-in", "deploy", "remote-validation"):
        for job in [name for name in JOB_NAMES if stage_of(name) == stage]:
            result = run_job(sample, job, variables)
            assert result.returncode == 0, f"{job}:\n{result.stdout}{result.stderr}"
            traces[job] = result.stdout
            report = resolve_job(TEMPLATE_CI, job).get("artifacts", {}).get("reports", {}).get("dotenv")
            if report:
                variables.update(read_dotenv(sample / report))
            if stage == "package":
                runtime = job.removeprefix("publish:")
                variable = "PLATFORM_CONTROL_RUNTIME_DIGEST_" + runtime.upper().replace("-", "_")
                assert re.fullmatch(r"sha256:[0-9a-f]{64}", read_dotenv(sample / "runtime-digest.env")[variable])

    digests = read_dotenv(sample / "runtime-digests.env")
    assert sorted(digests) == sorted("PLATFORM_CONTROL_RUNTIME_DIGEST_" + r.upper().replace("-", "_") for r in RUNTIMES)
    images = json.loads((tmp_path / "environment" / "images.json").read_text())
    assert {runtime: entry["digest"] for runtime, entry in images.items()} == {
        runtime: digests["PLATFORM_CONTROL_RUNTIME_DIGEST_" + runtime.upper().replace("-", "_")] for runtime in RUNTIMES
    }
    assert all(entry["source_sha"] == SHA for entry in images.values())
    assert "terminal-gateway WebSocket /internal/terminal/ws upgrades" in traces["app-runtime-smoke"]
    assert "gone from the read model" in traces["disposable-cleanup"]


def test_fan_in_names_the_runtime_whose_digest_is_missing(sample: Path) -> None:
    digest = "sha256:" + "ab" * 32
    variables = {f"PLATFORM_CONTROL_RUNTIME_DIGEST_{name}": digest for name in ("API", "WEB", "WORKER")}
    result = run_job(sample, "platform_control_assemble_runtime_digests", {"CI_COMMIT_SHA": SHA, **variables})
    assert result.returncode == 1
    assert "missing runtime digest for: terminal-gateway (PLATFORM_CONTROL_RUNTIME_DIGEST_TERMINAL_GATEWAY unset)" in (
        result.stderr
    )
    web_fast = run_job(
        sample,
        "platform_control_assemble_runtime_digests",
        {
            "CI_COMMIT_SHA": SHA,
            "PLATFORM_CONTROL_RELEASE_PROFILE": "web-fast",
            "PLATFORM_CONTROL_RUNTIME_DIGEST_WEB": digest,
        },
    )
    assert web_fast.returncode == 0, web_fast.stderr
    assert "profile web-fast expects digests for web" in web_fast.stdout


def test_publish_refuses_a_dockerfile_without_oci_labels(tmp_path: Path) -> None:
    repo = materialize_sample_repo(tmp_path / "repo")
    dockerfile = repo / "runtimes/worker/Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace(" org.opencontainers.image.created=$CREATED", ""))
    result = run_job(repo, "publish:worker", {"CI_COMMIT_SHA": SHA})
    assert result.returncode == 1
    assert "runtimes/worker/Dockerfile: final stage has no LABEL org.opencontainers.image.created" in result.stderr


def test_role_authz_smoke_passes_and_writes_junit(sample: Path, config) -> None:
    check = config.preflight.checks["role_authz_smoke"]
    result = run(check.command, sample / check.cwd, tool_env(**check.env), timeout=check.timeout_seconds)
    assert result.returncode == 0, result.stdout + result.stderr
    suite = ET.parse(sample / check.report.path).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("6", "0")
    names = {case.get("name") for case in suite.iter("testcase")}
    assert {"non_admins_may_not_bind_list_or_revoke", "admin_reads_audit_log_of_role_changes"} <= names


def test_kind_parity_holds_with_the_declared_allow_list(sample: Path) -> None:
    result = run(["python3", "scripts/ci/platform_control_kind_parity.py"], sample)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 declared differences" in result.stdout


@pytest.fixture(scope="module")
def node_modules() -> Path:
    # The README's test command installs both; their absence is a broken set-up, never a reason to skip.
    assert CHROMIUM.exists() and shutil.which("npm") is not None, f"needs npm and a chromium at {CHROMIUM}"
    modules = NODE_DIR / "node_modules"
    if not (modules / "@playwright" / "test").is_dir():
        installed = run(["npm", "ci", "--prefix", str(NODE_DIR)], NODE_DIR, timeout=300)
        assert installed.returncode == 0, installed.stderr
    return modules


def test_playwright_suite_passes_against_the_os_chromium(sample: Path, config, node_modules: Path) -> None:
    check = config.preflight.checks["playwright_e2e"]
    env = tool_env(**check.env, PC_RELEASE_NODE_MODULES=str(node_modules))
    env.pop("PLAYWRIGHT_GREP", None)
    result = run(check.command, sample / check.cwd, env, timeout=check.timeout_seconds)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    report = json.loads((sample / check.report.path).read_text())
    assert report["stats"]["unexpected"] == 0

    def titles(suite: dict) -> list[tuple[str, str]]:
        found = [(spec["title"], spec["tests"][0]["results"][-1]["status"]) for spec in suite.get("specs", [])]
        return found + [t for child in suite.get("suites", []) for t in titles(child)]

    results = dict(t for suite in report["suites"] for t in titles(suite))
    assert set(results.values()) == {"passed"}
    assert {
        "anonymous visitor is sent to sign in, then back to the admin page",
        "non-admin victor is redirected away from /admin",
        "non-admin oscar is redirected away from /admin",
        "admin binds a role and sees it listed",
        "admin revokes a role and it disappears",
        "viewer session cannot bind, list or revoke through the API",
        "audit log shows the bind and the revoke, newest first",
        "viewer cannot read the audit log",
    } <= set(results)
