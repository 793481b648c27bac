"""The runtime matrix next to the release pipeline `.gitlab-ci.yml` would create: publish jobs per runtime and
the jobs that carry their digest snippets to the fan-in, read with pc_release.ci, GitLab's own rules."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from pc_release.ci import CI_FILE, CiConfig, CiConfigError, load_ci_config
from pc_release.ci.lint import CiLint
from pc_release.errors import ConfigurationError, GitLabError
from pc_release.readiness.models import CiJobFacts, PublishFacts
from pc_release.release_config import ReleaseConfig, RuntimeMatrixError, parse_runtime_matrix

FAN_IN_STAGE = "digest_fan_in"
# Settings that only make sense for a repository that declares runtimes: with any of them, a missing
# runtime matrix is a lost file, not "no runtimes here".
RUNTIME_SETTINGS = frozenset(
    {"runtime_matrix", "publish_filters", "dockerfiles", "runtime_required_files", "runtime_config"}
)


def declares_runtimes(config: ReleaseConfig) -> bool:
    return bool(RUNTIME_SETTINGS & config.model_fields_set)


def pipeline_scope(sha: str, release_branch: str, master_branch: str, variables: Mapping[str, str]) -> dict[str, str]:
    """What `rules:` see when pc-release creates the release pipeline through the API."""
    slug = "".join(char if char.isalnum() else "-" for char in release_branch.lower())[:63].strip("-")
    return {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_COMMIT_SHA": sha,
        "CI_COMMIT_SHORT_SHA": sha[:8],
        "CI_COMMIT_BRANCH": release_branch,
        "CI_COMMIT_REF_NAME": release_branch,
        "CI_COMMIT_REF_SLUG": slug,
        "CI_PIPELINE_SOURCE": "api",
        "CI_DEFAULT_BRANCH": master_branch,
        **variables,
    }


Reader = Callable[[str], str | None]
# GitLab's CI Lint of the candidate SHA (GitLabResource.ci_lint, bound to the SHA); None when there is no GitLab.
Lint = Callable[[], CiLint]


def ci_config_at(read: Reader, lint: Lint | None) -> tuple[CiConfig, str]:
    """(the configuration, "") from GitLab's own merge when GitLab answers; else the offline reader's, which names
    the includes it could not read, and why GitLab's merge was not used."""
    unavailable = ""
    if lint is not None:
        try:
            answer = lint()
        except (GitLabError, ConfigurationError) as err:
            unavailable = f"GitLab's CI Lint was not available: {err}"
        else:
            for path in (CI_FILE, *answer.own_files()):
                read(path)  # the files a job's location is looked up in
            return answer.config(), ""
    return load_ci_config(read, CI_FILE), unavailable


def runtimes_at(read: Reader, config: ReleaseConfig) -> tuple[list[str] | None, str]:
    """(the runtime matrix, "") or (None, why there is none / why it is unreadable)."""
    text = read(config.runtime_matrix)
    if text is None:
        return None, f"no {config.runtime_matrix} at the SHA"
    try:
        return parse_runtime_matrix(text), ""
    except RuntimeMatrixError as err:
        return None, f"{config.runtime_matrix}: {err}"


def profile_runtimes(runtimes: list[str], config: ReleaseConfig, profile: str) -> list[str]:
    """The runtimes a release pipeline of this profile publishes (web-fast: only the web runtimes)."""
    if profile == "web-fast":
        return [runtime for runtime in runtimes if runtime in config.web_runtimes]
    return list(runtimes)


def publish_facts(
    read: Reader, config: ReleaseConfig, scope: Mapping[str, str], profile: str, lint: Lint | None = None
) -> PublishFacts:
    """Facts for the publish and fan-in rules; `read` returns a file's text at the SHA (None when absent), `lint`
    GitLab's merged configuration of the SHA."""
    runtimes, problem = runtimes_at(read, config)
    base = {"matrix_file": config.runtime_matrix, "profile": profile, "digest_artifact": config.digest_artifact}
    if runtimes is None:
        if read(config.runtime_matrix) is None and not declares_runtimes(config):
            return PublishFacts(status="not_applicable", reason=f"no runtimes declared ({problem})", **base)
        return PublishFacts(status="broken", reason=problem, **base)
    expected = profile_runtimes(runtimes, config, profile)
    base |= {
        "runtimes": expected,
        "filters": {runtime: reason for runtime, reason in config.publish_filters.items()},
        "expected_jobs": {runtime: config.publish_job_for(runtime) for runtime in expected},
        "digest_variables": {runtime: config.digest_variable_for(runtime) for runtime in expected},
    }
    texts: dict[str, str] = {}

    def recording_read(path: str) -> str | None:
        text = read(path)
        if text is not None:
            texts[path] = text
        return text

    try:
        ci, lint_unavailable = ci_config_at(recording_read, lint)
        if not ci.workflow_allows(scope):
            return PublishFacts(
                status="broken",
                reason=f"{CI_FILE}: workflow:rules create no pipeline for {scope.get('CI_COMMIT_BRANCH')}",
                **base,
            )
        jobs = ci.jobs_for(scope)
    except CiConfigError as err:
        return PublishFacts(status="broken", reason=f"{CI_FILE}: {err}", **base)
    facts = [
        CiJobFacts(
            name=job.name,
            stage=job.stage,
            when=job.when,
            dotenv_reports=[path.removeprefix("./") for path in job.dotenv_reports],
            artifact_paths=[path.removeprefix("./") for path in job.artifact_paths],
            receives_from=None if job.dependencies is None else list(job.dependencies),
            location=job_location(texts, job.name),
        )
        for job in jobs
    ]
    publish_pattern = re.compile(re.escape(config.publish_job).replace(re.escape("{runtime}"), "(.+)"))
    unmatched = [
        job.name for job in jobs if (match := publish_pattern.fullmatch(job.name)) and match.group(1) not in runtimes
    ]
    return PublishFacts(
        status="ok",
        jobs=facts,
        stages=list(ci.stages),
        fan_in_jobs=[job.name for job in jobs if config.pc_stage_for(job.name, job.stage) == FAN_IN_STAGE],
        unmatched_publish_jobs=unmatched,
        unresolved_includes=list(ci.unresolved_includes),
        ci_lint_unavailable=lint_unavailable,
        **base,
    )


def job_location(texts: Mapping[str, str], job_name: str) -> str:
    """`file:line` of the job's definition (parallel instances point at their base job)."""
    base = re.sub(r"(: \[.*\]| \d+/\d+)$", "", job_name)
    pattern = re.compile(rf"^([\"']?){re.escape(base)}\1[ \t]*:", re.MULTILINE)
    for path, text in texts.items():
        if match := pattern.search(text):
            return f"{path}:{text.count(chr(10), 0, match.start()) + 1}"
    return CI_FILE
