"""The sandbox's CI Lint (`GET /projects/:id/ci/lint`) through python-gitlab: the configuration merged with its
local and own-project includes and `spec:inputs`, and GitLab's errors for what it cannot merge."""

from __future__ import annotations

import gitlab
import pytest
import yaml
from gitlab.v4.objects import Project as ProjectProxy

from pc_release.sandbox.gitlab_server import SandboxGitLab
from pc_release_tests.sandbox.conftest import PROJECT, Origin

ENTRY = """\
include:
  - local: ci/common.yml
  - project: platform/platform-control
    file: ci/publish.yml
    inputs:
      stage: deploy
stages: [test, deploy]
"""
COMMON = """\
.base:
  script: [echo base]
unit:
  extends: .base
  stage: test
"""
PUBLISH = """\
spec:
  inputs:
    stage:
      default: test
    runtime:
      default: api
---
"publish:$[[ inputs.runtime ]]":
  extends: .base
  stage: $[[ inputs.stage ]]
  rules:
    - if: $CI_COMMIT_BRANCH == "release"
"""


def test_local_and_own_project_includes_are_merged_with_inputs_filled(
    project: ProjectProxy, origin: Origin, server: SandboxGitLab
) -> None:
    sha = origin.commit({".gitlab-ci.yml": ENTRY, "ci/common.yml": COMMON, "ci/publish.yml": PUBLISH})

    lint = project.ci_lint.get(content_ref=sha, include_jobs=True)

    assert lint.valid is True and lint.errors == []
    merged = yaml.safe_load(lint.merged_yaml)
    assert "include" not in merged
    # The input given by the include wins over the default; the one not given takes its default.
    assert merged["publish:api"]["stage"] == "deploy"
    assert merged["publish:api"]["script"] == ["echo base"]  # extends resolved across files
    assert [(i["type"], i["location"], i["extra"]) for i in lint.includes] == [
        ("local", "ci/common.yml", {}),
        ("file", "ci/publish.yml", {"project": PROJECT, "ref": "HEAD"}),
    ]
    assert {i["context_sha"] for i in lint.includes} == {sha}
    # A static check lists every job, whatever its rules.
    assert [(job["name"], job["stage"]) for job in lint.jobs] == [("unit", "test"), ("publish:api", "deploy")]


def test_a_dry_run_evaluates_rules_on_the_dry_run_ref(project: ProjectProxy, origin: Origin) -> None:
    sha = origin.commit({".gitlab-ci.yml": ENTRY, "ci/common.yml": COMMON, "ci/publish.yml": PUBLISH})
    origin.commit({}, "release", branch="release")

    on_master = project.ci_lint.get(content_ref=sha, dry_run=True, include_jobs=True)
    on_release = project.ci_lint.get(content_ref=sha, dry_run=True, dry_run_ref="release", include_jobs=True)

    assert [job["name"] for job in on_master.jobs] == ["unit"]
    assert [job["name"] for job in on_release.jobs] == ["unit", "publish:api"]


@pytest.mark.parametrize(
    ("include", "error"),
    [
        (
            "  - project: platform/ci-templates\n    file: publish.yml\n",
            "Project `platform/ci-templates` not found or access denied! Make sure any includes in the pipeline "
            "configuration are correctly defined.",
        ),
        (
            "  - project: platform/platform-control\n    file: ci/missing.yml\n",
            "Project `platform/platform-control` file `ci/missing.yml` does not exist!",
        ),
        (
            "  - project: platform/platform-control\n    ref: v9\n    file: ci/publish.yml\n",
            "Project `platform/platform-control` reference `v9` does not exist!",
        ),
        ("  - local: ci/missing.yml\n", "Local file `ci/missing.yml` does not exist!"),
        (
            "  - template: Jobs/SAST.gitlab-ci.yml\n",
            "Included file `Jobs/SAST.gitlab-ci.yml` is empty or does not exist!",
        ),
        (
            "  - component: gitlab.example.test/components/lint@1.0\n",
            "Component 'gitlab.example.test/components/lint@1.0' - content not found",
        ),
        (
            "  - remote: https://ci.example.test/shared.yml?private_token=abc123\n",
            "Remote file `https://ci.example.test/shared.yml` could not be fetched because of a socket error!",
        ),
    ],
    ids=["other project", "missing project file", "unknown ref", "missing local", "template", "component", "remote"],
)
def test_includes_it_cannot_merge_make_the_configuration_invalid_in_gitlabs_words(
    project: ProjectProxy, origin: Origin, include: str, error: str
) -> None:
    sha = origin.commit({".gitlab-ci.yml": f"include:\n{include}job:\n  script: [x]\n"})

    lint = project.ci_lint.get(content_ref=sha)

    assert lint.valid is False
    assert lint.errors == [error]
    assert lint.merged_yaml is None


def test_an_invalid_configuration_keeps_its_merged_yaml(project: ProjectProxy, origin: Origin) -> None:
    sha = origin.commit({".gitlab-ci.yml": "stages: [build]\njob:\n  stage: deploy\n  script: [x]\n"})

    lint = project.ci_lint.get(content_ref=sha)

    assert lint.valid is False
    assert lint.errors == ["job job: chosen stage deploy does not exist; available stages are .pre, build, .post"]
    assert yaml.safe_load(lint.merged_yaml)["job"]["stage"] == "deploy"


def test_content_ref_defaults_to_the_default_branch_and_an_unknown_one_is_404(
    project: ProjectProxy, origin: Origin
) -> None:
    origin.commit({".gitlab-ci.yml": "only-on-master:\n  script: [x]\n"})

    assert "only-on-master" in yaml.safe_load(project.ci_lint.get().merged_yaml)
    with pytest.raises(gitlab.exceptions.GitlabGetError) as err:
        project.ci_lint.get(content_ref="f" * 40)
    assert err.value.response_code == 404


def test_a_commit_without_configuration_is_invalid(project: ProjectProxy, origin: Origin) -> None:
    sha = origin.commit({".gitlab-ci.yml": ""})

    lint = project.ci_lint.get(content_ref=sha)

    assert (lint.valid, lint.errors) == (False, ["Please provide content of .gitlab-ci.yml"])


def test_pipelines_run_jobs_from_own_project_includes(project: ProjectProxy, origin: Origin) -> None:
    origin.commit({".gitlab-ci.yml": ENTRY, "ci/common.yml": COMMON, "ci/publish.yml": PUBLISH})
    origin.commit({}, "release", branch="release")

    pipeline = project.pipelines.create({"ref": "release"})

    assert sorted(job.name for job in pipeline.jobs.list(get_all=True)) == ["publish:api", "unit"]
