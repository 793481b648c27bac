"""GitLab's API entities as JSON (project, branch, commit, pipeline, job, user), built from the sandbox's state."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pc_release.sandbox.gitlab.access import DEVELOPER, MAINTAINER
from pc_release.sandbox.gitlab.origin import DEFAULT_BRANCH

if TYPE_CHECKING:
    from pc_release.sandbox.gitlab.server import SandboxGitLab

_DETAILED_STATUS = {
    "created": ("created", "created", "status_created"),
    "waiting_for_resource": ("waiting", "waiting for resource", "status_pending"),
    "preparing": ("preparing", "preparing", "status_preparing"),
    "pending": ("pending", "pending", "status_pending"),
    "running": ("running", "running", "status_running"),
    "success": ("passed", "passed", "status_success"),
    "failed": ("failed", "failed", "status_failed"),
    "canceling": ("canceling", "canceling", "status_canceled"),
    "canceled": ("canceled", "canceled", "status_canceled"),
    "skipped": ("skipped", "skipped", "status_skipped"),
    "manual": ("manual", "manual action", "status_manual"),
    "scheduled": ("scheduled", "delayed", "status_scheduled"),
    "waiting_for_callback": ("waiting", "waiting for callback", "status_pending"),
}


def millis(timestamp: float) -> int:
    """GitLab's timestamps have millisecond precision; filters compare at that precision too."""
    return round(timestamp * 1000)


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    ms = millis(timestamp)
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_millis(text: str) -> int:
    return millis(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def safe_relative(path: str) -> str | None:
    """A normalised artifact path inside the job's artifacts, or None for anything escaping it."""
    parts = [part for part in PurePosixPath(path).parts if part not in ("", ".", "/")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def is_ci_source(pipeline: Mapping[str, Any]) -> bool:
    """GitLab's `ci_sources`: a child pipeline (source `parent_pipeline`) is "dangling", it does not speak for its
    ref or commit (its parent does), so a commit's last pipeline and a ref's latest are never a child."""
    return pipeline["source"] != "parent_pipeline"


# Entities::Ci::Job's fields beyond Entities::Ci::JobBasic; Entities::Ci::Bridge is JobBasic plus its
# downstream pipeline.
JOB_ONLY_KEYS = ("artifacts_file", "artifacts", "runner", "artifacts_expire_at", "archived", "tag_list")


class Views:
    """The JSON GitLab sends for each entity; every method runs under the server lock."""

    def __init__(self, server: SandboxGitLab) -> None:
        self.s = server

    def user(self) -> dict[str, Any]:
        """GitLab's UserBasic, as pipelines carry their user."""
        return {
            "id": 1,
            "username": "pc-release",
            "name": "pc-release sandbox",
            "state": "active",
            "avatar_url": None,
            "web_url": f"{self.s.url}/pc-release",
        }

    def job_user(self) -> dict[str, Any]:
        """GitLab's User entity, as jobs carry their user: UserBasic plus the profile fields."""
        profile = dict.fromkeys(("public_email", "skype", "linkedin", "twitter", "website_url", "organization"), "")
        return {**self.user(), "created_at": iso(0), "bio": None, "location": None, **profile}

    def project(self) -> dict[str, Any]:
        base = self.s.url
        name = self.s.project_path.rsplit("/", 1)[-1]
        namespace = self.s.project_path.rsplit("/", 1)[0]
        return {
            "id": self.s.project_id,
            "description": "platform-control (pc-release sandbox)",
            "name": name,
            "name_with_namespace": " / ".join(self.s.project_path.split("/")),
            "path": name,
            "path_with_namespace": self.s.project_path,
            "created_at": iso(0),
            "default_branch": DEFAULT_BRANCH,
            "tag_list": [],
            "topics": [],
            "ssh_url_to_repo": f"git@127.0.0.1:{self.s.project_path}.git",
            "http_url_to_repo": self.s.repository_url,
            "web_url": f"{base}/{self.s.project_path}",
            "readme_url": None,
            "visibility": "private",
            "archived": False,
            "empty_repo": not self.s._origin.branches(),
            "namespace": {
                "id": 1,
                "name": namespace,
                "path": namespace,
                "kind": "group",
                "full_path": namespace,
                "web_url": f"{base}/groups/{namespace}",
            },
            "jobs_enabled": True,
            "builds_access_level": "enabled",
        }

    def commit(self, sha: str, with_pipeline: bool, stats: bool = False) -> dict[str, Any]:
        """GitLab's Commit entity; `with_pipeline` makes it CommitDetail (GET one commit), `stats` adds its stats."""
        commit = self.s._origin.commit(sha)
        commit["web_url"] = f"{self.s.url}/{self.s.project_path}/-/commit/{commit['id']}"
        if stats:
            commit["stats"] = self.s._origin.stats(sha)
        if with_pipeline:
            pipelines = [p for p in self.s._pipelines.values() if p["sha"] == commit["id"] and is_ci_source(p)]
            last = max(pipelines, key=lambda p: p["id"]) if pipelines else None
            commit["last_pipeline"] = self.pipeline(last, detailed=False) if last else None
            commit["status"] = last["status"] if last else None
            commit["project_id"] = self.s.project_id
        return commit

    def branch(self, name: str, sha: str, access_level: int = MAINTAINER) -> dict[str, Any]:
        base = f"{self.s.url}/{self.s.project_path}"
        default = self.s._origin.branches().get(DEFAULT_BRANCH)
        push, merge = self.s.access.protected.get(name, (DEVELOPER, DEVELOPER))
        return {
            "name": name,
            "commit": self.commit(sha, with_pipeline=False),
            "merged": name != DEFAULT_BRANCH and default is not None and self.s._origin.is_ancestor(sha, default),
            "protected": name in self.s.access.protected,
            "developers_can_push": name in self.s.access.protected and push == DEVELOPER,
            "developers_can_merge": name in self.s.access.protected and merge == DEVELOPER,
            "can_push": self.s.access.may_write(name, access_level)[0],
            "default": name == DEFAULT_BRANCH,
            "web_url": f"{base}/-/tree/{quote(name, safe='/')}",
        }

    def detailed_status(self, status: str, path: str, warnings: bool) -> dict[str, Any]:
        text, label, icon = _DETAILED_STATUS[status]
        group = status
        if status == "success" and warnings:
            text, label, icon, group = "warning", "passed with warnings", "status_warning", "success-with-warnings"
        return {
            "icon": icon,
            "text": text,
            "label": label,
            "group": group,
            "tooltip": label,
            "has_details": True,
            "details_path": path,
            "illustration": None,
            "favicon": f"/assets/ci_favicons/favicon_{icon}.png",
        }

    def pipeline(self, pipeline: Mapping[str, Any], detailed: bool, metadata: bool = False) -> dict[str, Any]:
        """GitLab's pipeline entities: PipelineBasic, or Pipeline when `detailed`; `metadata` adds `name`, as
        PipelineBasicWithMetadata (the list) and PipelineWithMetadata (GET one, `latest`) do."""
        web_path = f"/{self.s.project_path}/-/pipelines/{pipeline['id']}"
        view: dict[str, Any] = {
            "id": pipeline["id"],
            "iid": pipeline["iid"],
            "project_id": self.s.project_id,
            "sha": pipeline["sha"],
            "ref": pipeline["ref"],
            "status": pipeline["status"],
            "source": pipeline["source"],
            "created_at": iso(pipeline["created_at"]),
            "updated_at": iso(pipeline["updated_at"]),
            "web_url": f"{self.s.url}{web_path}",
        }
        if metadata:
            view["name"] = None
        if not detailed:
            return view
        started, finished = pipeline["started_at"], pipeline["finished_at"]
        jobs = self.s._latest_jobs(pipeline["id"])
        warnings = any(j["allow_failure"] and j["status"] == "failed" for j in jobs)
        view.update(
            {
                "before_sha": pipeline["before_sha"],
                "tag": pipeline["tag"],
                "yaml_errors": pipeline.get("yaml_errors"),
                "user": self.user(),
                "started_at": iso(started),
                "finished_at": iso(finished),
                "committed_at": None,
                "duration": round(finished - started) if started and finished else None,
                "queued_duration": round(started - pipeline["created_at"], 3) if started else None,
                "coverage": None,
                "archived": False,
                "detailed_status": self.detailed_status(pipeline["status"], web_path, warnings),
            }
        )
        return view

    def job(self, job: Mapping[str, Any]) -> dict[str, Any]:
        pipeline = self.s._pipelines[job["pipeline_id"]]
        started, finished = job["started_at"], job["finished_at"]
        if started and finished:
            duration: float | None = round(finished - started, 3)
        elif started:
            duration = round(time.time() - started, 3)
        else:
            duration = None
        queued_from = job["queued_at"] or job["created_at"]
        artifacts = self.artifact_entries(job)
        archive = next((a for a in artifacts if a["file_type"] == "archive"), None)
        view: dict[str, Any] = {
            "id": job["id"],
            "name": job["name"],
            "stage": job["stage"],
            "status": job["status"],
            "ref": pipeline["ref"],
            "tag": pipeline["tag"],
            "coverage": None,
            "allow_failure": job["allow_failure"],
            "created_at": iso(job["created_at"]),
            "started_at": iso(started),
            "finished_at": iso(finished),
            "erased_at": None,
            "duration": duration,
            "queued_duration": round(started - queued_from, 3) if started else None,
            "user": self.job_user(),
            "commit": self.commit(pipeline["sha"], with_pipeline=False),
            "pipeline": self.pipeline(pipeline, detailed=False),
            "web_url": f"{self.s.url}/{self.s.project_path}/-/jobs/{job['id']}",
            "project": {"ci_job_token_scope_enabled": False},
            "artifacts": artifacts,
            "artifacts_expire_at": None,
            "tag_list": [],
            "runner": None,
            "archived": False,
        }
        # GitLab's Job entity sends these two only `if: job.artifacts?` and `if: job.failed?`.
        if archive:
            view["artifacts_file"] = {"filename": archive["filename"], "size": archive["size"]}
        if job["status"] == "failed":
            view["failure_reason"] = job["failure_reason"]
        return view

    def artifact_entries(self, job: Mapping[str, Any]) -> list[dict[str, Any]]:
        entries = []
        if job["artifacts"]:
            size = sum(job["artifacts"].values())
            entries.append({"file_type": "archive", "size": size, "filename": "artifacts.zip", "file_format": "zip"})
            entries.append({"file_type": "metadata", "size": 0, "filename": "metadata.gz", "file_format": "gzip"})
        trace = self.s._trace_path(job["id"])
        if trace.exists():
            entries.append(
                {"file_type": "trace", "size": trace.stat().st_size, "filename": "job.log", "file_format": "raw"}
            )
        if job["dotenv"]:
            size = len("".join(f"{k}={v}\n" for k, v in job["dotenv"].items()))
            entries.append({"file_type": "dotenv", "size": size, "filename": ".env.gz", "file_format": "gzip"})
        return entries

    def bridge(self, job: Mapping[str, Any]) -> dict[str, Any]:
        """Entities::Ci::Bridge: a trigger job as JobBasic, with its downstream pipeline (PipelineBasic) or null."""
        view = {key: value for key, value in self.job(job).items() if key not in JOB_ONLY_KEYS}
        downstream = self.s._pipelines.get(job.get("downstream_pipeline_id") or 0)
        view["downstream_pipeline"] = self.pipeline(downstream, detailed=False) if downstream else None
        return view
