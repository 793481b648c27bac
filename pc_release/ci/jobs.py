"""The jobs a pipeline gets from a merged configuration (includes, `extends` and `!reference` already resolved,
by GitLab's CI Lint or by pc_release.ci.includes): `default:` and legacy top-level defaults with `inherit:`,
`stages:` with `.pre`/`.post`, hidden `.jobs`, `parallel:` (count and matrix), `workflow:rules`, job `rules:`
(`if`, `when`, `allow_failure`, `variables`, `needs`), and `only`/`except` with ref names, regexes, keywords and
`variables`.

Not evaluated: `rules:changes`/`rules:exists` (always treated as matching), `when: delayed` (runs as on_success).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pc_release.ci.document import RESERVED_KEYWORDS
from pc_release.ci.errors import CiConfigError
from pc_release.ci.expressions import evaluate_expression, parse_regex_literal

DEFAULT_STAGES = ("build", "test", "deploy")
DEFAULT_JOB_STAGE = "test"
# Keys `default:` (and their legacy top-level forms) hand down to jobs that do not set them.
DEFAULTABLE_KEYS = (
    "after_script",
    "artifacts",
    "before_script",
    "cache",
    "hooks",
    "id_tokens",
    "image",
    "interruptible",
    "retry",
    "services",
    "tags",
    "timeout",
)
LEGACY_GLOBAL_DEFAULTS = ("image", "services", "cache", "before_script", "after_script")
SCRIPT_KEYS = ("script", "before_script", "after_script")


@dataclass(frozen=True)
class CiJob:
    """One job as GitLab would create it for a given pipeline."""

    name: str
    stage: str
    script: tuple[str, ...]
    before_script: tuple[str, ...] = ()
    after_script: tuple[str, ...] = ()
    # None: wait for every earlier stage; a tuple (possibly empty): wait only for these jobs (DAG).
    needs: tuple[str, ...] | None = None
    # None: inherit artifacts/dotenv from every earlier stage; otherwise only from these jobs.
    dependencies: tuple[str, ...] | None = None
    allow_failure: bool = False
    allow_failure_exit_codes: tuple[int, ...] = ()
    when: str = "on_success"
    artifact_paths: tuple[str, ...] = ()
    artifacts_when: str = "on_success"
    dotenv_reports: tuple[str, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _RuleOutcome:
    """What a matching rule (or only/except) decided; `when` is None when the rule left it to the job."""

    when: str | None
    allow_failure: bool | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    needs: Any = None


@dataclass(frozen=True)
class CiConfig:
    """A fully resolved configuration: what remains is per-pipeline rule evaluation."""

    stages: tuple[str, ...]
    variables: Mapping[str, str]
    workflow_rules: tuple[Mapping[str, Any], ...] | None
    definitions: Mapping[str, Mapping[str, Any]]
    # Includes that were not read (offline: remote, project, template, component), so what they define is unseen.
    unresolved_includes: tuple[str, ...] = ()

    def workflow_allows(self, variables: Mapping[str, str]) -> bool:
        """Whether `workflow:rules` let a pipeline be created at all for these variables."""
        return self._workflow_outcome(variables) is not None

    def jobs_for(self, variables: Mapping[str, str]) -> list[CiJob]:
        """The jobs a pipeline with these (predefined + pipeline) variables gets, in GitLab's order."""
        workflow = self._workflow_outcome(variables)
        if workflow is None:
            return []
        global_vars = {**self.variables, **workflow.variables}
        candidates: list[tuple[CiJob, list[_Need] | None]] = []
        for name, definition in self.definitions.items():
            for instance_name, matrix_vars in _parallel_instances(name, definition.get("parallel")):
                built = _build_job(instance_name, definition, global_vars, matrix_vars, variables)
                if built is not None:
                    candidates.append(built)
        kept = _resolve_needs(candidates, _parallel_groups(self.definitions))
        order = {stage: index for index, stage in enumerate(self.stages)}
        return sorted(kept, key=lambda job: order[job.stage])

    def _workflow_outcome(self, variables: Mapping[str, str]) -> _RuleOutcome | None:
        if self.workflow_rules is None:
            return _RuleOutcome(when=None)
        outcome = _first_matching_rule(self.workflow_rules, {**self.variables, **variables})
        if outcome is None or outcome.when == "never":
            return None
        return outcome


def _flatten(value: Any) -> list[Any]:
    """Script and rules lists may nest (from !reference or anchors); GitLab flattens them."""
    if not isinstance(value, list):
        return [value]
    flat: list[Any] = []
    for item in value:
        flat.extend(_flatten(item))
    return flat


def _script_lines(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(line) for line in _flatten(value) if line is not None)


def _variable_value(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("value", "")
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _variables(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(key): _variable_value(item) for key, item in value.items()}


def _inherits(definition: Mapping[str, Any], kind: str, key: str | None = None) -> bool:
    inherit = definition.get("inherit")
    if not isinstance(inherit, dict) or kind not in inherit:
        return True
    setting = inherit[kind]
    if isinstance(setting, list):
        return key is not None and key in setting
    return bool(setting)


def build_config(document: dict[str, Any]) -> CiConfig:
    stages_value = document.get("stages", document.get("types"))
    if stages_value and not isinstance(stages_value, list):
        # GitLab refuses a bare string here; reading it character by character would invent stages.
        raise CiConfigError("`stages` must be a list of stage names")
    declared = tuple(str(stage) for stage in stages_value) if stages_value else DEFAULT_STAGES
    stages = (".pre", *(s for s in declared if s not in (".pre", ".post")), ".post")

    defaults = {key: document[key] for key in LEGACY_GLOBAL_DEFAULTS if key in document}
    if isinstance(document.get("default"), dict):
        defaults.update({k: v for k, v in document["default"].items() if k in DEFAULTABLE_KEYS})

    definitions: dict[str, dict[str, Any]] = {}
    for name, value in document.items():
        if name in RESERVED_KEYWORDS or name.startswith(".") or not isinstance(value, dict):
            continue
        if not any(key in value for key in ("script", "trigger", "run")):
            raise CiConfigError(f"jobs:{name} config should implement the script:, run:, or trigger: keyword")
        definition = dict(value)
        for key, default in defaults.items():
            if key not in definition and _inherits(definition, "default", key):
                definition[key] = default
        stage = str(definition.get("stage", DEFAULT_JOB_STAGE))
        if stage not in stages:
            raise CiConfigError(
                f"{name} job: chosen stage {stage} does not exist; available stages are {', '.join(stages)}"
            )
        definitions[name] = definition

    workflow = document.get("workflow")
    rules = workflow.get("rules") if isinstance(workflow, dict) else None
    return CiConfig(
        stages=stages,
        variables=_variables(document.get("variables")),
        workflow_rules=tuple(_flatten(rules)) if rules is not None else None,
        definitions=definitions,
    )


def _parallel_instances(name: str, parallel: Any) -> list[tuple[str, dict[str, str]]]:
    """GitLab's names: `job 1/3` for a count, `job: [aws, monitoring]` for a matrix entry."""
    if isinstance(parallel, int) and parallel > 1:
        return [
            (f"{name} {index}/{parallel}", {"CI_NODE_INDEX": str(index), "CI_NODE_TOTAL": str(parallel)})
            for index in range(1, parallel + 1)
        ]
    if isinstance(parallel, dict) and isinstance(parallel.get("matrix"), list):
        combos = _matrix_combinations(parallel["matrix"])
        return [
            (
                f"{name}: [{', '.join(combo.values())}]",
                {**combo, "CI_NODE_INDEX": str(index), "CI_NODE_TOTAL": str(len(combos))},
            )
            for index, combo in enumerate(combos, start=1)
        ]
    return [(name, {})]


def _matrix_combinations(matrix: Iterable[Any]) -> list[dict[str, str]]:
    combos: list[dict[str, str]] = []
    for entry in matrix:
        if not isinstance(entry, dict):
            continue
        keys = list(entry)
        choices = [
            [_variable_value(v) for v in entry[k]] if isinstance(entry[k], list) else [_variable_value(entry[k])]
            for k in keys
        ]
        combos.extend(dict(zip(keys, values, strict=True)) for values in itertools.product(*choices))
    return combos


def _parallel_groups(definitions: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Base name -> instance names, so `needs: [build]` waits for every `build` instance."""
    return {
        name: [instance for instance, _ in _parallel_instances(name, definition.get("parallel"))]
        for name, definition in definitions.items()
    }


_DURATION_UNITS = {"h": 3600, "m": 60, "s": 1, "d": 86400}


def _timeout_seconds(value: Any) -> float | None:
    """`timeout: 1h 30m` / `90 minutes` / `3600`, as GitLab's ChronicDuration reads it."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)", str(value)):
        total += float(amount) * _DURATION_UNITS.get(unit[:1].lower() if unit else "s", 1)
    return total or None


def _build_job(
    name: str,
    definition: Mapping[str, Any],
    global_vars: Mapping[str, str],
    matrix_vars: Mapping[str, str],
    pipeline_vars: Mapping[str, str],
) -> tuple[CiJob, list[_Need] | None] | None:
    job_vars = {
        **{k: v for k, v in global_vars.items() if _inherits(definition, "variables", k)},
        **_variables(definition.get("variables")),
        **matrix_vars,
    }
    scope = {**job_vars, **pipeline_vars}
    outcome = _job_outcome(definition, scope)
    when = outcome.when if outcome is not None and outcome.when else str(definition.get("when", "on_success"))
    if outcome is None or when == "never":
        return None
    job_vars.update(outcome.variables)

    allow_failure_value = definition.get("allow_failure")
    exit_codes: tuple[int, ...] = ()
    if isinstance(allow_failure_value, dict):
        codes = allow_failure_value.get("exit_codes", [])
        try:
            exit_codes = tuple(int(code) for code in (codes if isinstance(codes, list) else [codes]))
        except (TypeError, ValueError):
            raise CiConfigError(f"{name}: `allow_failure:exit_codes` must be integers") from None
        allow_failure = False
    elif allow_failure_value is not None:
        allow_failure = bool(allow_failure_value)
    else:
        # GitLab: a job-level manual job is optional; a manual job from rules blocks the pipeline.
        allow_failure = when == "manual" and "rules" not in definition
    if outcome.allow_failure is not None:
        allow_failure = outcome.allow_failure

    artifacts = definition.get("artifacts") if isinstance(definition.get("artifacts"), dict) else {}
    reports = artifacts.get("reports") if isinstance(artifacts.get("reports"), dict) else {}
    dotenv = reports.get("dotenv")
    needs = outcome.needs if outcome.needs is not None else definition.get("needs")
    dependencies = definition.get("dependencies")
    job = CiJob(
        name=name,
        stage=str(definition.get("stage", DEFAULT_JOB_STAGE)),
        script=_script_lines(definition.get("script")),
        before_script=_script_lines(definition.get("before_script")),
        after_script=_script_lines(definition.get("after_script")),
        dependencies=None if dependencies is None else tuple(str(d) for d in _flatten(dependencies)),
        allow_failure=allow_failure,
        allow_failure_exit_codes=exit_codes,
        when="on_success" if when == "delayed" else when,
        artifact_paths=tuple(str(p) for p in _flatten(artifacts.get("paths") or [])),
        artifacts_when=str(artifacts.get("when", "on_success")),
        dotenv_reports=tuple(str(p) for p in _flatten(dotenv)) if dotenv else (),
        variables=job_vars,
        timeout_seconds=_timeout_seconds(definition.get("timeout")),
        raw=definition,
    )
    return job, None if needs is None else _needs_entries(needs)


@dataclass(frozen=True)
class _Need:
    job: str
    artifacts: bool = True
    optional: bool = False
    parallel: Any = None


def _needs_entries(needs: Any) -> list[_Need]:
    """Cross-project and cross-pipeline needs cannot be met by the sandbox and are dropped."""
    entries = []
    for need in _flatten(needs):
        if isinstance(need, str):
            entries.append(_Need(need))
        elif isinstance(need, dict) and isinstance(need.get("job"), str) and "project" not in need:
            entries.append(
                _Need(
                    need["job"],
                    artifacts=bool(need.get("artifacts", True)),
                    optional=bool(need.get("optional", False)),
                    parallel=need.get("parallel"),
                )
            )
    return entries


def _resolve_needs(candidates: list[tuple[CiJob, list[_Need] | None]], groups: Mapping[str, list[str]]) -> list[CiJob]:
    """Turn needs into job names of this pipeline; a missing required need is GitLab's error."""
    present = {job.name for job, _ in candidates}
    resolved = []
    for job, needs in candidates:
        if needs is None:
            resolved.append(job)
            continue
        names: list[str] = []
        with_artifacts: list[str] = []
        for need in needs:
            if isinstance(need.parallel, dict):
                targets = [name for name, _ in _parallel_instances(need.job, need.parallel)]
            else:
                targets = groups.get(need.job, [need.job])
            found = [target for target in targets if target in present]
            if not found and not need.optional:
                raise CiConfigError(
                    f"'{job.name}' job needs '{need.job}' job, but '{need.job}' does not exist in the"
                    " pipeline. This might be because of the only, except, or rules keywords."
                )
            names.extend(found)
            if need.artifacts:
                with_artifacts.extend(found)
        dependencies = job.dependencies if job.dependencies is not None else tuple(with_artifacts)
        resolved.append(dataclasses.replace(job, needs=tuple(names), dependencies=dependencies))
    return resolved


def _job_outcome(definition: Mapping[str, Any], scope: Mapping[str, str]) -> _RuleOutcome | None:
    """None when the job is not part of this pipeline (no rule matched, or only/except excluded it)."""
    if "rules" in definition:
        return _first_matching_rule(_flatten(definition["rules"] or []), scope)
    if not _only_except_allows(definition, scope):
        return None
    return _RuleOutcome(when=None)


def _first_matching_rule(rules: Iterable[Any], scope: Mapping[str, str]) -> _RuleOutcome | None:
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        condition = rule.get("if")
        if condition is not None and not evaluate_expression(str(condition), scope):
            continue
        return _RuleOutcome(
            when=str(rule["when"]) if "when" in rule else None,
            allow_failure=rule.get("allow_failure") if isinstance(rule.get("allow_failure"), bool) else None,
            variables=_variables(rule.get("variables")),
            needs=rule.get("needs"),
        )
    return None


_REF_KEYWORDS = {
    "api": lambda v: v.get("CI_PIPELINE_SOURCE") == "api",
    "branches": lambda v: bool(v.get("CI_COMMIT_BRANCH")),
    "chat": lambda v: v.get("CI_PIPELINE_SOURCE") == "chat",
    "external": lambda v: v.get("CI_PIPELINE_SOURCE") == "external",
    "external_pull_requests": lambda v: v.get("CI_PIPELINE_SOURCE") == "external_pull_request_event",
    "merge_requests": lambda v: v.get("CI_PIPELINE_SOURCE") == "merge_request_event",
    "pipelines": lambda v: v.get("CI_PIPELINE_SOURCE") == "pipeline",
    "pushes": lambda v: v.get("CI_PIPELINE_SOURCE") == "push",
    "schedules": lambda v: v.get("CI_PIPELINE_SOURCE") == "schedule",
    "tags": lambda v: bool(v.get("CI_COMMIT_TAG")),
    "triggers": lambda v: v.get("CI_PIPELINE_SOURCE") == "trigger",
    "web": lambda v: v.get("CI_PIPELINE_SOURCE") == "web",
}


def _ref_matches(pattern: str, scope: Mapping[str, str]) -> bool:
    pattern = pattern.split("@", 1)[0] if not pattern.startswith("/") else pattern
    if pattern in _REF_KEYWORDS:
        return _REF_KEYWORDS[pattern](scope)
    ref = scope.get("CI_COMMIT_REF_NAME", "")
    regex = parse_regex_literal(pattern)
    if regex is not None:
        return regex.search(ref) is not None
    return pattern == ref


def _only_except_allows(definition: Mapping[str, Any], scope: Mapping[str, str]) -> bool:
    def normalise(value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        if isinstance(value, list | str):
            return {"refs": value if isinstance(value, list) else [value]}
        return {}

    def refs_match(spec: dict[str, Any]) -> bool | None:
        if "refs" not in spec:
            return None
        return any(_ref_matches(str(ref), scope) for ref in _flatten(spec["refs"]))

    def variables_match(spec: dict[str, Any]) -> bool | None:
        if "variables" not in spec:
            return None
        return any(evaluate_expression(str(expr), scope) for expr in _flatten(spec["variables"]))

    only = normalise(definition.get("only", ["branches", "tags"]))
    only_checks = [check for check in (refs_match(only), variables_match(only)) if check is not None]
    if not all(only_checks):
        return False
    excluded = normalise(definition.get("except"))
    return not any(check for check in (refs_match(excluded), variables_match(excluded)) if check)
