"""Table-driven tests of the `.gitlab-ci.yml` reader against the GitLab features real files use."""

from __future__ import annotations

import re
import textwrap
from typing import Any

import pytest

from pc_release.ci import CiConfigError, CiJob, config_from_merged_yaml, evaluate_expression, load_ci_config
from pc_release.ci.lint import CiLint

MASTER_PUSH = {
    "CI_COMMIT_BRANCH": "master",
    "CI_COMMIT_REF_NAME": "master",
    "CI_PIPELINE_SOURCE": "push",
    "CI_DEFAULT_BRANCH": "master",
}
RELEASE_API = {
    "CI_COMMIT_BRANCH": "release/platform-control",
    "CI_COMMIT_REF_NAME": "release/platform-control",
    "CI_PIPELINE_SOURCE": "api",
    "CI_DEFAULT_BRANCH": "master",
}
TAG_PUSH = {
    "CI_COMMIT_TAG": "v1.0.0",
    "CI_COMMIT_REF_NAME": "v1.0.0",
    "CI_PIPELINE_SOURCE": "push",
    "CI_DEFAULT_BRANCH": "master",
}


def _jobs(files: dict[str, str] | str, variables: dict[str, str] | None = None) -> list[CiJob]:
    if isinstance(files, str):
        files = {".gitlab-ci.yml": files}
    texts = {path: textwrap.dedent(text) for path, text in files.items()}
    return load_ci_config(texts.get).jobs_for(variables if variables is not None else MASTER_PUSH)


def _by_name(files: dict[str, str] | str, variables: dict[str, str] | None = None) -> dict[str, CiJob]:
    return {job.name: job for job in _jobs(files, variables)}


# --- rules:if expressions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "variables", "expected"),
    [
        ("$MODE", {"MODE": "full"}, True),
        ("$MODE", {"MODE": ""}, False),
        ("$MODE", {}, False),
        ('$MODE == "full"', {"MODE": "full"}, True),
        ("$MODE == 'full'", {"MODE": "deploy"}, False),
        ('$MODE != "full"', {"MODE": "deploy"}, True),
        ('$MODE != "full"', {}, True),
        ("$MODE == null", {}, True),
        ("$MODE == null", {"MODE": ""}, False),
        ("$MODE != null", {"MODE": "x"}, True),
        ('$MODE == ""', {"MODE": ""}, True),
        ("$A == $B", {"A": "x", "B": "x"}, True),
        ("${MODE} == 'full'", {"MODE": "full"}, True),
        ("$CI_COMMIT_BRANCH =~ /^release\\//", {"CI_COMMIT_BRANCH": "release/platform-control"}, True),
        ("$CI_COMMIT_BRANCH =~ /^release\\//", {"CI_COMMIT_BRANCH": "master"}, False),
        ("$CI_COMMIT_BRANCH =~ /^release\\//", {}, False),
        ("$CI_COMMIT_BRANCH !~ /^release\\//", {}, True),
        ("$PROFILE =~ /^WEB-fast$/i", {"PROFILE": "web-fast"}, True),
        ("$PROFILE =~ $PATTERN", {"PROFILE": "web-fast", "PATTERN": "/fast/"}, True),
        ('$A == "1" && $B == "2"', {"A": "1", "B": "2"}, True),
        ('$A == "1" && $B == "2"', {"A": "1", "B": "3"}, False),
        ('$A == "1" || $B == "2"', {"A": "0", "B": "2"}, True),
        ('$A == "1" || $B == "2" && $C == "3"', {"A": "1"}, True),
        ('($A == "1" || $B == "2") && $C == "3"', {"A": "1"}, False),
        (
            '$CI_PIPELINE_SOURCE == "api" && ($MODE == "full" || $MODE == "deploy")',
            {"CI_PIPELINE_SOURCE": "api", "MODE": "deploy"},
            True,
        ),
        ('$MSG == "say \\"hi\\""', {"MSG": 'say "hi"'}, True),
    ],
)
def test_expressions(expression: str, variables: dict[str, str], expected: bool) -> None:
    assert evaluate_expression(expression, variables) is expected


@pytest.mark.parametrize("expression", ["$A ==", "$A === 'x'", "($A", "$A =~ 'notregex'", "A == 'x'", "$A $B"])
def test_malformed_expressions_are_config_errors(expression: str) -> None:
    with pytest.raises(CiConfigError):
        evaluate_expression(expression, {"A": "x"})


# --- job selection ---------------------------------------------------------------------------------------

RULES_CI = """\
stages: [build, deploy]
always-job:
  stage: build
  script: [x]
release-only:
  stage: deploy
  script: [x]
  rules:
    - if: $CI_COMMIT_BRANCH =~ /^release\\//
manual-approval:
  stage: deploy
  script: [x]
  rules:
    - if: $CI_PIPELINE_SOURCE == "api"
      when: manual
    - when: never
web-fast:
  stage: deploy
  script: [x]
  rules:
    - if: $PLATFORM_CONTROL_RELEASE_PROFILE == "web-fast"
      variables: {NARROW: "true"}
      allow_failure: true
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
      when: always
only-master:
  stage: deploy
  script: [x]
  only: [master]
only-release-regex:
  stage: deploy
  script: [x]
  only:
    - /^release\\/.*$/
except-tags:
  stage: deploy
  script: [x]
  except: [tags]
only-api-with-variable:
  stage: deploy
  script: [x]
  only:
    refs: [api]
    variables:
      - $MODE == "full"
never:
  stage: deploy
  script: [x]
  when: never
"""


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (MASTER_PUSH, ["always-job", "web-fast", "only-master", "except-tags"]),
        (
            {**RELEASE_API, "MODE": "full"},
            [
                "always-job",
                "release-only",
                "manual-approval",
                "only-release-regex",
                "except-tags",
                "only-api-with-variable",
            ],
        ),
        (
            {**RELEASE_API, "PLATFORM_CONTROL_RELEASE_PROFILE": "web-fast"},
            ["always-job", "release-only", "manual-approval", "web-fast", "only-release-regex", "except-tags"],
        ),
        (TAG_PUSH, ["always-job"]),
    ],
)
def test_rules_and_only_except_select_jobs(variables: dict[str, str], expected: list[str]) -> None:
    assert [job.name for job in _jobs(RULES_CI, variables)] == expected


def test_rule_outcomes_set_when_allow_failure_and_variables() -> None:
    release = _by_name(RULES_CI, {**RELEASE_API, "PLATFORM_CONTROL_RELEASE_PROFILE": "web-fast"})
    assert release["manual-approval"].when == "manual"
    assert release["manual-approval"].allow_failure is False  # manual from rules blocks, like GitLab
    assert release["web-fast"].allow_failure is True
    assert release["web-fast"].variables["NARROW"] == "true"
    assert release["web-fast"].when == "on_success"
    assert _by_name(RULES_CI)["web-fast"].when == "always"


def test_workflow_rules_filter_pipelines_and_add_variables() -> None:
    text = """\
    workflow:
      rules:
        - if: $CI_PIPELINE_SOURCE == "api"
          variables: {TRIGGERED: "yes"}
        - if: $CI_COMMIT_BRANCH == "master"
        - when: never
    job:
      script: [x]
    """
    config = load_ci_config({".gitlab-ci.yml": textwrap.dedent(text)}.get)
    assert config.workflow_allows(MASTER_PUSH) and not config.workflow_allows(TAG_PUSH)
    assert config.jobs_for(TAG_PUSH) == []
    assert config.jobs_for(RELEASE_API)[0].variables["TRIGGERED"] == "yes"


# --- structure: anchors, extends, references, includes, defaults -----------------------------------------


def test_anchors_aliases_and_merge_keys() -> None:
    jobs = _by_name(
        """\
        .common: &common
          stage: build
          variables: &vars {A: "1"}
          script: [echo common]
        first:
          <<: *common
        second:
          <<: *common
          variables:
            <<: *vars
            B: "2"
          script: [echo second]
        """
    )
    assert jobs["first"].stage == "build" and jobs["first"].script == ("echo common",)
    assert dict(jobs["second"].variables) == {"A": "1", "B": "2"}
    assert jobs["second"].script == ("echo second",)


def test_extends_chains_lists_and_deep_merges() -> None:
    jobs = _by_name(
        """\
        .base:
          stage: build
          variables: {A: "base", B: "base"}
          script: [echo base]
          artifacts: {paths: [base/], when: always}
        .middle:
          extends: .base
          variables: {B: "middle"}
          tags: [docker]
        .other:
          variables: {C: "other"}
          script: [echo other]
        job:
          extends: [.middle, .other]
          variables: {A: "job"}
        """
    )
    job = jobs["job"]
    assert {k: job.variables[k] for k in "ABC"} == {"A": "job", "B": "middle", "C": "other"}
    assert job.script == ("echo other",)  # lists are replaced, not concatenated
    assert job.stage == "build" and job.raw["tags"] == ["docker"]
    assert job.artifact_paths == ("base/",) and job.artifacts_when == "always"
    assert "extends" not in job.raw


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("job:\n  extends: .missing\n  script: [x]\n", "unknown keys in `extends`"),
        (".a:\n  extends: .b\n.b:\n  extends: .a\njob:\n  extends: .a\n  script: [x]\n", "circular"),
        ("job:\n  script: [!reference [.nope, script]]\n", "could not be found"),
        ("job:\n  stage: nowhere\n  script: [x]\n", "chosen stage nowhere does not exist"),
        ("job:\n  image: alpine\n", "should implement the script:"),
        ("job: [unclosed\n", "invalid YAML"),
        ("- a\n- b\n", "config should be a hash"),
        ("include: missing.yml\njob:\n  script: [x]\n", "Local file `missing.yml` does not exist!"),
        ("job:\n  script: [x]\n  needs: [ghost]\n", "'job' job needs 'ghost' job"),
        ("job:\n  script: [x]\n  rules:\n    - if: $A ==\n", "invalid expression"),
        ("job:\n  extends: 5\n  script: [x]\n", "`extends` must be a job name"),
        ("job:\n  script: [x]\n  allow_failure:\n    exit_codes: x\n", "must be integers"),
        ("stages: build\njob:\n  script: [x]\n", "`stages` must be a list"),
    ],
)
def test_configuration_errors(text: str, message: str) -> None:
    with pytest.raises(CiConfigError, match=message.replace("(", r"\(")):
        _jobs(text)


def test_missing_entry_file() -> None:
    with pytest.raises(CiConfigError, match="Missing CI config file"):
        load_ci_config(lambda _path: None)


def test_reference_tags_in_scripts_rules_and_variables() -> None:
    jobs = _by_name(
        """\
        .setup:
          before_script: [echo setup-1, echo setup-2]
          variables: {SHARED: "yes"}
        .rules:
          release:
            - if: $CI_COMMIT_BRANCH == "master"
              when: manual
        job:
          variables:
            SHARED: !reference [.setup, variables, SHARED]
          script:
            - !reference [.setup, before_script]
            - echo job
          rules:
            - !reference [.rules, release]
        """
    )
    job = jobs["job"]
    assert job.script == ("echo setup-1", "echo setup-2", "echo job")
    assert job.variables["SHARED"] == "yes"
    assert job.when == "manual"


def test_reference_sees_extended_values() -> None:
    jobs = _by_name(
        """\
        .base:
          script: [echo base]
        .child:
          extends: .base
        job:
          script: [!reference [.child, script], echo job]
        """
    )
    assert jobs["job"].script == ("echo base", "echo job")


@pytest.mark.parametrize(
    "include",
    [
        "include: ci/jobs.yml",
        "include: /ci/jobs.yml",
        "include:\n  - ci/jobs.yml",
        "include:\n  local: ci/jobs.yml",
        "include:\n  - local: /ci/jobs.yml\n  - remote: https://example.com/ci.yml\n  - project: g/p\n    file: x.yml",
    ],
)
def test_local_include_forms(include: str) -> None:
    files = {
        ".gitlab-ci.yml": include + "\nstages: [build, test]\nown:\n  stage: build\n  script: [x]\n",
        "ci/jobs.yml": "include: ci/nested.yml\nincluded:\n  extends: .nested\n  script: [echo included]\n",
        "ci/nested.yml": ".nested:\n  stage: test\n",
    }
    assert [(job.name, job.stage) for job in _jobs(files)] == [("own", "build"), ("included", "test")]


def test_including_file_overrides_included_keys() -> None:
    files = {
        ".gitlab-ci.yml": "include: base.yml\nvariables: {MODE: main}\njob:\n  variables: {X: main}\n",
        "base.yml": "variables: {MODE: base, OTHER: base}\njob:\n  script: [echo base]\n  variables: {X: base, Y: b}\n",
    }
    job = _by_name(files)["job"]
    assert job.script == ("echo base",)
    assert {k: job.variables[k] for k in ("MODE", "OTHER", "X", "Y")} == {
        "MODE": "main",
        "OTHER": "base",
        "X": "main",
        "Y": "b",
    }


def test_defaults_and_inherit() -> None:
    jobs = _by_name(
        """\
        before_script: [echo legacy]
        default:
          before_script: [echo default]
          after_script: [echo after]
          timeout: 10m
          artifacts: {paths: [default/]}
        variables: {GLOBAL: g, OTHER: o}
        plain:
          script: [x]
        own:
          before_script: [echo own]
          script: [x]
        opted-out:
          inherit: {default: false, variables: [OTHER]}
          script: [x]
        some-defaults:
          inherit: {default: [after_script]}
          script: [x]
        """
    )
    assert jobs["plain"].before_script == ("echo default",)
    assert jobs["plain"].after_script == ("echo after",)
    assert jobs["plain"].timeout_seconds == 600
    assert jobs["plain"].artifact_paths == ("default/",)
    assert jobs["own"].before_script == ("echo own",)
    assert jobs["opted-out"].before_script == () and jobs["opted-out"].timeout_seconds is None
    assert dict(jobs["opted-out"].variables) == {"OTHER": "o"}
    assert jobs["some-defaults"].before_script == () and jobs["some-defaults"].after_script == ("echo after",)


def test_hidden_jobs_and_reserved_keys_are_not_jobs() -> None:
    names = [
        job.name
        for job in _jobs(
            """\
            image: alpine
            services: [postgres]
            cache: {paths: [x]}
            .hidden:
              script: [x]
            real:
              script: [x]
            """
        )
    ]
    assert names == ["real"]


def test_stages_order_default_pre_and_post() -> None:
    jobs = _jobs(
        """\
        last:
          stage: .post
          script: [x]
        deploy:
          stage: deploy
          script: [x]
        untyped:
          script: [x]
        build:
          stage: build
          script: [x]
        first:
          stage: .pre
          script: [x]
        """
    )
    assert [(job.name, job.stage) for job in jobs] == [
        ("first", ".pre"),
        ("build", "build"),
        ("untyped", "test"),
        ("deploy", "deploy"),
        ("last", ".post"),
    ]


def test_parallel_matrix_and_count() -> None:
    jobs = _jobs(
        """\
        stages: [publish, verify]
        publish:
          stage: publish
          script: [echo $RUNTIME]
          parallel:
            matrix:
              - RUNTIME: [api, worker]
                ARCH: amd64
              - RUNTIME: web
        shard:
          stage: verify
          script: [x]
          parallel: 2
        collect:
          stage: verify
          needs: [publish]
          script: [x]
        api-only:
          stage: verify
          script: [x]
          needs:
            - job: publish
              parallel:
                matrix:
                  - RUNTIME: api
                    ARCH: amd64
        """
    )
    by_name = {job.name: job for job in jobs}
    assert [job.name for job in jobs][:3] == ["publish: [api, amd64]", "publish: [worker, amd64]", "publish: [web]"]
    assert by_name["publish: [worker, amd64]"].variables["RUNTIME"] == "worker"
    assert by_name["publish: [web]"].variables["CI_NODE_TOTAL"] == "3"
    assert {"shard 1/2", "shard 2/2"} <= set(by_name)
    assert by_name["shard 2/2"].variables["CI_NODE_INDEX"] == "2"
    assert by_name["collect"].needs == ("publish: [api, amd64]", "publish: [worker, amd64]", "publish: [web]")
    assert by_name["api-only"].needs == ("publish: [api, amd64]",)


def test_matrix_rules_see_matrix_variables() -> None:
    jobs = _jobs(
        """\
        publish:
          script: [x]
          parallel:
            matrix:
              - RUNTIME: [api, web]
          rules:
            - if: $PROFILE == "web-fast" && $RUNTIME != "web"
              when: never
            - when: on_success
        """,
        {**RELEASE_API, "PROFILE": "web-fast"},
    )
    assert [job.name for job in jobs] == ["publish: [web]"]


def test_needs_dependencies_artifacts_and_optional() -> None:
    jobs = _by_name(
        """\
        build:
          stage: build
          script: [x]
          artifacts:
            paths: [dist/, "reports/*.xml"]
            reports:
              dotenv: build.env
        lint:
          stage: build
          script: [x]
        test:
          stage: test
          script: [x]
          needs:
            - build
            - job: lint
              artifacts: false
            - job: maybe
              optional: true
        deploy:
          stage: deploy
          script: [x]
          dependencies: [build]
        early:
          stage: deploy
          script: [x]
          needs: []
        """
    )
    assert jobs["test"].needs == ("build", "lint")
    assert jobs["test"].dependencies == ("build",)
    assert jobs["deploy"].needs is None and jobs["deploy"].dependencies == ("build",)
    assert jobs["early"].needs == () and jobs["early"].dependencies == ()
    assert jobs["build"].artifact_paths == ("dist/", "reports/*.xml")
    assert jobs["build"].dotenv_reports == ("build.env",)
    assert jobs["lint"].needs is None and jobs["lint"].dependencies is None


@pytest.mark.parametrize(
    ("job_yaml", "field", "expected"),
    [
        ("when: manual", "allow_failure", True),
        ("when: manual\n  allow_failure: false", "allow_failure", False),
        ("allow_failure: {exit_codes: [3, 4]}", "allow_failure_exit_codes", (3, 4)),
        ("allow_failure: {exit_codes: 3}", "allow_failure", False),
        ("when: delayed\n  start_in: 5 minutes", "when", "on_success"),
        ("when: always", "when", "always"),
        ("timeout: 1h 30m", "timeout_seconds", 5400),
        ("timeout: 90 minutes", "timeout_seconds", 5400),
        ("timeout: 45", "timeout_seconds", 45),
        ("variables: {N: 3, B: true, D: {value: dv, description: d}}", "variables", {"N": "3", "B": "true", "D": "dv"}),
        ("script: echo one", "script", ("echo one",)),
        ("script: [[a, [b]], c]", "script", ("a", "b", "c")),
        ("image: {name: x, entrypoint: ['']}\n  interruptible: true\n  unknown_key: {deep: [1]}", "stage", "test"),
        ("trigger: {include: child.yml}", "script", ()),
    ],
)
def test_job_fields(job_yaml: str, field: str, expected: Any) -> None:
    defines_body = job_yaml.startswith(("script", "trigger"))
    text = "job:\n  " + (job_yaml if defines_body else "script: [x]\n  " + job_yaml)
    value = getattr(_by_name(text)["job"], field)
    assert (dict(value) if field == "variables" else value) == expected


def test_spec_header_document_is_skipped() -> None:
    text = "spec:\n  inputs:\n    x:\n      default: y\n---\njob:\n  script: [x]\n"
    assert [job.name for job in _jobs(text)] == ["job"]


def test_includes_that_are_not_fetched_are_named_not_silently_dropped() -> None:
    text = textwrap.dedent(
        """\
        include:
          - local: ci/jobs.yml
          - remote: https://ci.example.test/shared.yml?private_token=abc123
          - project: platform/ci-templates
            ref: v3
            file: [publish.yml, deploy.yml]
          - template: Jobs/SAST.gitlab-ci.yml
          - component: gitlab.example.test/components/lint@1.0
        own:
          script: [x]
        """
    )
    files = {
        ".gitlab-ci.yml": text,
        "ci/jobs.yml": "include: https://ci.example.test/nested.yml\nlocal_job:\n  script: [y]\n",
    }
    config = load_ci_config(files.get)

    assert config.unresolved_includes == (
        "remote:https://ci.example.test/shared.yml",
        "project:platform/ci-templates@v3 (publish.yml, deploy.yml)",
        "template:Jobs/SAST.gitlab-ci.yml",
        "component:gitlab.example.test/components/lint@1.0",
        "remote:https://ci.example.test/nested.yml",
    )
    assert "abc123" not in repr(config.unresolved_includes)
    assert load_ci_config({".gitlab-ci.yml": "job:\n  script: [x]\n"}.get).unresolved_includes == ()


def test_an_extends_of_an_unfetched_template_names_the_include_in_the_error() -> None:
    text = "include:\n  - project: platform/ci-templates\n    file: publish.yml\npublish:api:\n  extends: .publish\n"
    with pytest.raises(CiConfigError) as err:
        load_ci_config({".gitlab-ci.yml": text}.get)
    message = str(err.value)
    assert ".publish" in message
    assert "project:platform/ci-templates (publish.yml), which pc-release does not fetch" in message


# --- spec:inputs -------------------------------------------------------------------------------------------

INPUTS_FILE = """\
spec:
  inputs:
    stage:
      default: test
    suffix:
      default: one
    parallel:
      default: 2
---
"job-$[[ inputs.suffix ]]":
  stage: $[[ inputs.stage ]]
  parallel: $[[ inputs.parallel ]]
  script: ["echo $[[ inputs.suffix ]] in $[[inputs.stage]]"]
"""


@pytest.mark.parametrize(
    ("include", "expected"),
    [
        ("include: ci/job.yml\n", [("job-one 1/2", "test", "echo one in test"), ("job-one 2/2", "test", None)]),
        (
            "include:\n  - local: ci/job.yml\n    inputs: {stage: deploy, suffix: two, parallel: 1}\n",
            [("job-two", "deploy", "echo two in deploy")],
        ),
    ],
    ids=["defaults", "given inputs"],
)
def test_spec_inputs_are_interpolated_from_the_include_or_their_defaults(include: str, expected: list) -> None:
    jobs = _jobs({".gitlab-ci.yml": "stages: [test, deploy]\n" + include, "ci/job.yml": INPUTS_FILE})
    assert [(job.name, job.stage) for job in jobs] == [(name, stage) for name, stage, _ in expected]
    assert jobs[0].script == (expected[0][2],)


@pytest.mark.parametrize(
    ("include", "inputs_file", "error"),
    [
        (
            "include: ci/job.yml\n",
            "spec:\n  inputs:\n    stage:\n---\njob:\n  script: [x]\n",
            "`stage` input: required",
        ),
        (
            "include:\n  - local: ci/job.yml\n    inputs: {colour: red}\n",
            INPUTS_FILE,
            "unknown input arguments: colour",
        ),
        (
            "include:\n  - local: ci/job.yml\n    inputs: {stage: deploy}\n",
            "job:\n  script: [x]\n",
            "Given inputs not defined in the `spec` section",
        ),
        (
            "include: ci/job.yml\n",
            "spec:\n  inputs: {}\n---\njob:\n  script: '$[[ inputs.nope ]]'\n",
            "unknown interpolation key: `nope`",
        ),
    ],
    ids=["required input missing", "unknown input", "inputs without spec", "unknown interpolation"],
)
def test_spec_inputs_refused_like_gitlab(include: str, inputs_file: str, error: str) -> None:
    with pytest.raises(CiConfigError, match=error):
        load_ci_config({".gitlab-ci.yml": include, "ci/job.yml": inputs_file}.get)


# --- GitLab's merged YAML (CI Lint) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "merged_yaml",
    [
        # GitLab 17: deep_stringify_keys before to_yaml; `extends` is kept next to the merged keys.
        "---\nstages:\n- .pre\n- test\n- .post\n.base:\n  script:\n  - echo base\n"
        'job:\n  script:\n  - echo base\n  extends: .base\n  rules:\n  - if: $MODE == "full"\n',
        # Older GitLab: Ruby symbol keys.
        "---\n:stages:\n- .pre\n- test\n- .post\n"
        ':job:\n  :script:\n  - echo base\n  :rules:\n  - :if: $MODE == "full"\n',
    ],
    ids=["string keys", "symbol keys"],
)
def test_gitlabs_merged_yaml_gives_the_jobs_rules_select(merged_yaml: str) -> None:
    config = config_from_merged_yaml(merged_yaml)
    assert config.stages == (".pre", "test", ".post")
    assert [(job.name, job.script) for job in config.jobs_for({"MODE": "full"})] == [("job", ("echo base",))]
    assert config.jobs_for({"MODE": "deploy"}) == []


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            {"valid": False, "errors": ["jobs config should contain at least one visible job"], "merged_yaml": None},
            "GitLab's CI Lint: jobs config should contain at least one visible job",
        ),
        ({"valid": True, "errors": [], "merged_yaml": None}, "GitLab's CI Lint sent no merged configuration"),
        (
            {"valid": True, "errors": [], "merged_yaml": "job:\n  stage: nope\n  script: [x]\n"},
            "as GitLab merged it: job job: chosen stage nope does not exist",
        ),
    ],
    ids=["invalid", "no merged yaml", "merged yaml refused"],
)
def test_a_lint_answer_without_a_usable_configuration_says_whose_error_it_is(answer: dict, error: str) -> None:
    with pytest.raises(CiConfigError, match=re.escape(error)):
        CiLint.from_answer(answer).config()


def test_the_projects_own_files_of_a_lint_answer_are_its_local_and_same_project_includes() -> None:
    context = {"context_project": "Platform/Platform-Control", "context_sha": "a" * 40}
    own = {"project": "platform/platform-control"}
    answer = CiLint.from_answer(
        {
            "valid": True,
            "includes": [
                {"type": "local", "location": "ci/jobs.yml", "extra": {}, **context},
                {"type": "file", "location": "ci/publish.yml", "extra": own},
                {"type": "file", "location": "ci/own.yml", "extra": own, **context},
                {"type": "file", "location": "deploy.yml", "extra": {"project": "platform/ci-templates"}, **context},
                {"type": "template", "location": "Jobs/SAST.gitlab-ci.yml", "extra": {}, **context},
            ],
        }
    )
    # Without its context the second include is not known to be the project's own.
    assert answer.own_files() == ["ci/jobs.yml", "ci/own.yml"]
