"""The sandbox GitLab's configuration merge and its CI Lint answer (`GET /projects/:id/ci/lint`, doc/api/lint.md).

GitLab merges every include itself; the sandbox reuses pc-release's offline reader (pc_release.ci.includes) and
adds what a GitLab with one project can read: `project:` includes of that project, at their `ref` (HEAD by
default), with their `spec:inputs`. Templates, components and remote files it cannot read: GitLab would fetch
them from its template catalog, the CI/CD catalog or the network, the sandbox has none of these, so such an
include makes the configuration invalid with the error GitLab gives when the file is not there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from pc_release.ci import CI_FILE, CiConfig, CiConfigError
from pc_release.ci.includes import Expanded, Fetch, Fetched, Source, expand
from pc_release.ci.jobs import build_config
from pc_release.sandbox.gitlab.origin import DEFAULT_BRANCH, Origin

if TYPE_CHECKING:
    from pc_release.sandbox.gitlab.server import SandboxGitLab

# GitLab's answer for an empty or missing configuration (Gitlab::Ci::YamlProcessor).
NO_CONTENT = "Please provide content of .gitlab-ci.yml"


def own_project_fetch(origin: Origin, project_path: str) -> Fetch:
    """Reads `project:` includes of the sandbox's one project; any other project is GitLab's "not found"."""

    def fetch(item: Mapping[str, Any], including: Source) -> list[Fetched] | None:
        if "project" in item:
            name = str(item["project"]).strip("/")
            if name.lower() != project_path.lower():
                raise CiConfigError(
                    f"Project `{name}` not found or access denied! Make sure any includes in the pipeline "
                    "configuration are correctly defined."
                )
            ref = str(item.get("ref") or "HEAD")
            sha = origin.resolve_commit(ref)
            if sha is None:
                raise CiConfigError(f"Project `{name}` reference `{ref}` does not exist!")
            files = item.get("file")
            source = Source(lambda path, at=sha: origin.read_file(at, path), project_path, sha)
            fetched = []
            for file in files if isinstance(files, list) else [files]:
                location = str(file).lstrip("/")
                text = origin.read_file(sha, location)
                if text is None:
                    raise CiConfigError(f"Project `{name}` file `{location}` does not exist!")
                fetched.append(Fetched("file", location, text, source, {"project": name, "ref": ref}))
            return fetched
        # The sandbox cannot read these (see the module docstring): GitLab's words for a file that is not there.
        if "template" in item:
            raise CiConfigError(f"Included file `{item['template']}` is empty or does not exist!")
        if "component" in item:
            raise CiConfigError(f"Component '{item['component']}' - content not found")
        if "remote" in item:
            location = re.sub(r"[?#].*$", "", str(item["remote"]))
            raise CiConfigError(f"Remote file `{location}` could not be fetched because of a socket error!")
        # `artifact:` (a child pipeline's generated configuration) and any other kind the sandbox does not have.
        raise CiConfigError(f"Include `{json.dumps(dict(item), default=str)}` needs to match exactly one accessor!")

    return fetch


def merge(origin: Origin, project_path: str, sha: str, text: str, entry: str = CI_FILE) -> Expanded:
    """The configuration at `sha` with every include the sandbox can read merged in; CiConfigError otherwise."""
    source = Source(lambda path: origin.read_file(sha, path), project_path, sha)
    return expand(text, entry, source, own_project_fetch(origin, project_path))


def ci_config(origin: Origin, project_path: str, sha: str, text: str | None, entry: str = CI_FILE) -> CiConfig:
    if not text or not text.strip():
        raise CiConfigError(NO_CONTENT)
    return build_config(merge(origin, project_path, sha, text, entry).document)


@dataclass(frozen=True)
class LintAnswer:
    """GitLab's `Entities::Ci::Lint::Result`: `jobs` only when asked for."""

    valid: bool
    errors: list[str]
    warnings: list[str]
    merged_yaml: str | None
    includes: list[dict[str, Any]] | None
    jobs: list[dict[str, Any]]

    def body(self, include_jobs: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "valid": self.valid,
            "errors": self.errors,
            "warnings": self.warnings,
            "merged_yaml": self.merged_yaml,
            "includes": self.includes,
        }
        if include_jobs:
            body["jobs"] = self.jobs
        return body


def _include_entry(server: SandboxGitLab, file: Fetched, including: Source) -> dict[str, Any]:
    """One entry of `includes`, as GitLab's File#metadata describes it."""
    base = f"{server.url}/{file.source.project or server.project_path}/-"
    return {
        "type": file.type,
        "location": file.location,
        "blob": f"{base}/blob/{file.source.sha}/{file.location}",
        "raw": f"{base}/raw/{file.source.sha}/{file.location}",
        "extra": dict(file.extra),
        "context_project": including.project,
        "context_sha": including.sha,
    }


def _static_job(job: Any) -> dict[str, Any]:
    raw = job.raw
    environment = raw.get("environment")
    return {
        "name": job.name,
        "stage": job.stage,
        "before_script": list(job.before_script),
        "script": list(job.script),
        "after_script": list(job.after_script),
        "tag_list": [str(tag) for tag in raw.get("tags") or []],
        "only": raw.get("only"),
        "except": raw.get("except"),
        "environment": environment.get("name") if isinstance(environment, dict) else environment,
        "when": job.when,
        "allow_failure": job.allow_failure,
        "needs": None if job.needs is None else [{"name": need} for need in job.needs],
    }


def lint(server: SandboxGitLab, sha: str, *, dry_run: bool, dry_run_ref: str | None) -> LintAnswer:
    """The lint of `.gitlab-ci.yml` at `sha`: a static check, or with `dry_run` a pipeline creation simulated on
    `dry_run_ref` (a push pipeline, as GitLab simulates it)."""
    origin = server._origin
    text = origin.read_file(sha, CI_FILE)
    if not text or not text.strip():
        return LintAnswer(False, [NO_CONTENT], [], None, None, [])
    try:
        expanded = merge(origin, server.project_path, sha, text)
    except CiConfigError as err:
        return LintAnswer(False, [str(err)], [], None, None, [])
    merged_yaml = yaml.safe_dump(expanded.document, sort_keys=False, default_flow_style=False)
    merged_yaml = "---\n" + merged_yaml
    includes = [_include_entry(server, file, including) for file, including in expanded.included]
    try:
        config = build_config(expanded.document)
        if dry_run:
            ref = dry_run_ref or DEFAULT_BRANCH
            resolved = origin.resolve(ref)
            if resolved is None:
                raise CiConfigError("Reference not found")
            head, is_tag = resolved
            scope = server._predefined_variables(ref, head, is_tag, "push")
            if not config.workflow_allows(scope):
                raise CiConfigError("Pipeline filtered out by workflow rules.")
            jobs = [
                {k: v for k, v in _static_job(job).items() if k not in ("only", "except", "needs")}
                for job in config.jobs_for(scope)
            ]
        else:
            jobs = [_static_job(job) for job in _every_job(config)]
    except CiConfigError as err:
        return LintAnswer(False, [str(err)], [], merged_yaml, includes, [])
    return LintAnswer(True, [], [], merged_yaml, includes, jobs)


def _every_job(config: CiConfig) -> list[Any]:
    """A static check lists every job, whatever its rules: a job's rules become one rule that always matches, its
    only/except go (a branch pipeline passes the default `only`)."""
    unruled = {
        name: {
            **{k: v for k, v in definition.items() if k not in ("only", "except")},
            **({"rules": [{}]} if "rules" in definition else {}),
        }
        for name, definition in config.definitions.items()
    }
    permissive = CiConfig(stages=config.stages, variables=config.variables, workflow_rules=None, definitions=unruled)
    return permissive.jobs_for({"CI_COMMIT_BRANCH": DEFAULT_BRANCH, "CI_COMMIT_REF_NAME": DEFAULT_BRANCH})
