"""Reads a `.gitlab-ci.yml` the way GitLab does: for the sandbox's pipelines and the readiness checks alike.

Covered: YAML anchors and merge keys, local `include:`, `extends:` (deep merge), `!reference` tags,
`default:` and legacy top-level defaults with `inherit:`, `stages:` with `.pre`/`.post`, hidden `.jobs`,
`parallel:` (count and matrix), `workflow:rules`, job `rules:` (`if`, `when`, `allow_failure`,
`variables`, `needs`), and `only`/`except` with ref names, regexes, keywords and `variables`.

Not resolved offline: remote, project, template and component includes (skipped, and named in
`CiConfig.unresolved_includes` and in configuration errors), `include:rules` and
`rules:changes`/`rules:exists` (always treated as matching), `when: delayed` (runs as on_success).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

DEFAULT_STAGES = ("build", "test", "deploy")
DEFAULT_JOB_STAGE = "test"
RESERVED_KEYWORDS = frozenset(
    {
        "image",
        "services",
        "stages",
        "types",
        "before_script",
        "after_script",
        "variables",
        "cache",
        "include",
        "workflow",
        "default",
        "spec",
    }
)
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
MAX_EXTENDS_DEPTH = 11
MAX_REFERENCE_DEPTH = 10
MAX_INCLUDES = 150


class CiConfigError(ValueError):
    """The configuration is one GitLab would refuse; the message reads like GitLab's."""


@dataclass(frozen=True)
class Reference:
    """A `!reference [job, key, ...]` tag, resolved after includes and `extends` like GitLab does."""

    path: tuple[str, ...]


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
    # Remote, project, template and component includes: skipped, so anything defined there is not seen.
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


def load_ci_config(read_file: Callable[[str], str | None], entry: str = ".gitlab-ci.yml") -> CiConfig:
    """Parse `entry` and its local includes (read through `read_file`, which returns None when absent)."""
    text = read_file(entry)
    if text is None:
        raise CiConfigError("Missing CI config file")
    unresolved: list[str] = []
    document = _expand_includes(_parse_yaml(text, entry), read_file, seen={entry.lstrip("/")}, unresolved=unresolved)
    try:
        document = _resolve_extends(document)
        document = _resolve_references(document)
        config = _build_config(document)
    except CiConfigError as err:
        if unresolved:
            raise CiConfigError(f"{err} ({unseen_includes_note(unresolved)})") from None
        raise
    return dataclasses.replace(config, unresolved_includes=tuple(unresolved))


def unseen_includes_note(unresolved: Iterable[str]) -> str:
    """How to read a verdict on a configuration some of whose includes were not read."""
    return (
        f"the configuration also includes {', '.join(unresolved)}, which pc-release does not fetch; a job or "
        "template defined there is not seen here"
    )


class _CiLoader(yaml.SafeLoader):
    """SafeLoader plus GitLab's only custom tag."""


def _construct_reference(loader: yaml.SafeLoader, node: yaml.Node) -> Reference:
    if not isinstance(node, yaml.SequenceNode):
        raise CiConfigError("!reference must be a sequence, e.g. !reference [.job, script]")
    return Reference(tuple(str(item) for item in loader.construct_sequence(node)))


_CiLoader.add_constructor("!reference", _construct_reference)


def _parse_yaml(text: str, path: str) -> dict[str, Any]:
    try:
        documents = [doc for doc in yaml.load_all(text, Loader=_CiLoader) if doc is not None]
    except yaml.YAMLError as err:
        raise CiConfigError(f"{path}: invalid YAML: {err}") from err
    # A file with a `spec:` header keeps its configuration in the second document.
    if len(documents) == 2 and isinstance(documents[0], dict) and "spec" in documents[0]:
        documents = documents[1:]
    if not documents:
        return {}
    if len(documents) > 1 or not isinstance(documents[0], dict):
        raise CiConfigError(f"{path}: config should be a hash")
    return documents[0]


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """GitLab's Hash#deep_merge: hashes merge key by key, anything else (lists too) is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _local_include_paths(spec: Any, unresolved: list[str]) -> list[str]:
    """The local includes of an `include:` value; every other kind is described into `unresolved`."""
    items = spec if isinstance(spec, list) else [spec]
    paths = []
    for item in items:
        if isinstance(item, str) and not re.match(r"^https?://", item):
            paths.append(item)
        elif isinstance(item, dict) and isinstance(item.get("local"), str):
            paths.append(item["local"])
        else:
            unresolved.append(_describe_include(item))
    return paths


def _describe_include(item: Any) -> str:
    if isinstance(item, str):
        item = {"remote": item}
    if not isinstance(item, dict):
        return f"include {item!r}"
    if "project" in item:
        files = item.get("file")
        shown = ", ".join(map(str, files)) if isinstance(files, list) else str(files)
        ref = f"@{item['ref']}" if item.get("ref") else ""
        return f"project:{item['project']}{ref} ({shown})"
    for kind in ("template", "component", "remote"):
        if kind in item:
            value = str(item[kind])
            if kind == "remote":
                value = re.sub(r"[?#].*$", "", value)  # a query string may carry a token
            return f"{kind}:{value}"
    return f"include {sorted(item)}"


def _expand_includes(
    document: dict[str, Any], read_file: Callable[[str], str | None], seen: set[str], unresolved: list[str]
) -> dict[str, Any]:
    """Included files are merged first, in order; the including file's own keys win."""
    if "include" not in document:
        return document
    merged: dict[str, Any] = {}
    for raw_path in _local_include_paths(document["include"], unresolved):
        path = raw_path.lstrip("/")
        if path in seen:
            continue
        seen.add(path)
        if len(seen) > MAX_INCLUDES:
            raise CiConfigError(f"Maximum of {MAX_INCLUDES} nested includes are allowed!")
        text = read_file(path)
        if text is None:
            raise CiConfigError(f"Local file `{raw_path}` does not exist!")
        merged = _deep_merge(merged, _expand_includes(_parse_yaml(text, path), read_file, seen, unresolved))
    own = {key: value for key, value in document.items() if key != "include"}
    return _deep_merge(merged, own)


def _resolve_extends(document: dict[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> dict[str, Any]:
        if name in resolved:
            return resolved[name]
        entry = document[name]
        parents = entry.get("extends")
        if parents is None:
            resolved[name] = entry
            return entry
        if not isinstance(parents, str | list) or not all(isinstance(p, str) for p in parents):
            raise CiConfigError(f"{name}: `extends` must be a job name or a list of job names")
        parent_names = [parents] if isinstance(parents, str) else list(parents)
        if len(chain) >= MAX_EXTENDS_DEPTH:
            raise CiConfigError(f"{name}: nesting too deep in `extends`")
        base: dict[str, Any] = {}
        for parent in parent_names:
            if parent in chain or parent == name:
                raise CiConfigError(f"{name}: circular dependency detected in `extends`")
            if not isinstance(document.get(parent), dict):
                raise CiConfigError(f"{name}: unknown keys in `extends` ({parent})")
            base = _deep_merge(base, resolve(parent, (*chain, name)))
        own = {key: value for key, value in entry.items() if key != "extends"}
        resolved[name] = _deep_merge(base, own)
        return resolved[name]

    return {
        name: resolve(name, ()) if isinstance(value, dict) and name not in RESERVED_KEYWORDS else value
        for name, value in document.items()
    }


def _resolve_references(document: dict[str, Any]) -> dict[str, Any]:
    def lookup(reference: Reference, depth: int) -> Any:
        if depth > MAX_REFERENCE_DEPTH:
            raise CiConfigError(f"!reference {list(reference.path)}: too many nested references")
        node: Any = document
        for key in reference.path:
            if not isinstance(node, dict) or key not in node:
                raise CiConfigError(f"!reference {list(reference.path)} could not be found")
            node = node[key]
        return walk(node, depth + 1)

    def walk(node: Any, depth: int) -> Any:
        if isinstance(node, Reference):
            return lookup(node, depth)
        if isinstance(node, dict):
            return {key: walk(value, depth) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item, depth) for item in node]
        return node

    return walk(document, 0)


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


def _build_config(document: dict[str, Any]) -> CiConfig:
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
    regex = _parse_regex_literal(pattern)
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


# --- rules:if expressions -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) | (?P<and>&&) | (?P<or>\|\|)
      | (?P<op>==|!=|=~|!~)
      | \$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\} | \$(?P<var>[A-Za-z_][A-Za-z0-9_]*)
      | "(?P<dq>(?:[^"\\]|\\.)*)" | '(?P<sq>(?:[^'\\]|\\.)*)'
      | (?P<regex>/(?:[^/\\]|\\.)*/[a-z]*)
      | (?P<null>null)\b
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokenize(expression: str) -> list[_Token]:
    tokens = []
    position = 0
    expression = expression.strip()
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None or match.end() == position:
            raise CiConfigError(f"invalid expression syntax: {expression!r}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "braced":
            kind = "var"
        elif kind in ("dq", "sq"):
            kind, text = "string", re.sub(r"\\(.)", r"\1", text)
        tokens.append(_Token(kind, text))
        position = match.end()
        while position < len(expression) and expression[position].isspace():
            position += 1
    return tokens


def _parse_regex_literal(text: str | None) -> re.Pattern[str] | None:
    """`/pattern/flags` in Ruby/RE2 style; None if `text` is not one."""
    if text is None:
        return None
    match = re.fullmatch(r"/(.*)/([a-z]*)", text, re.DOTALL)
    if match is None:
        return None
    flags = 0
    for flag in match.group(2):
        flags |= {"i": re.IGNORECASE, "m": re.DOTALL, "x": re.VERBOSE}.get(flag, 0)
    try:
        return re.compile(match.group(1).replace(r"\z", r"\Z"), flags)
    except re.error as err:
        raise CiConfigError(f"invalid regular expression {text!r}: {err}") from err


class _Parser:
    """Recursive descent over GitLab's grammar: `||` binds looser than `&&`; comparisons are binary."""

    def __init__(self, tokens: list[_Token], scope: Mapping[str, str], source: str) -> None:
        self.tokens = tokens
        self.index = 0
        self.scope = scope
        self.source = source

    def parse(self) -> bool:
        result = self.or_expression()
        if self.index != len(self.tokens):
            raise CiConfigError(f"invalid expression syntax: {self.source!r}")
        return result

    def peek(self) -> str | None:
        return self.tokens[self.index].kind if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        if self.index >= len(self.tokens):
            raise CiConfigError(f"invalid expression syntax: {self.source!r}")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def or_expression(self) -> bool:
        result = self.and_expression()
        while self.peek() == "or":
            self.take()
            right = self.and_expression()
            result = result or right
        return result

    def and_expression(self) -> bool:
        result = self.primary()
        while self.peek() == "and":
            self.take()
            right = self.primary()
            result = result and right
        return result

    def primary(self) -> bool:
        if self.peek() == "lparen":
            self.take()
            result = self.or_expression()
            if self.take().kind != "rparen":
                raise CiConfigError(f"invalid expression syntax: {self.source!r}")
            return result
        left = self.operand()
        if self.peek() != "op":
            return bool(left) if not isinstance(left, re.Pattern) else True
        operator = self.take().text
        right = self.operand()
        if operator in ("==", "!="):
            equal = (None if isinstance(left, re.Pattern) else left) == (
                None if isinstance(right, re.Pattern) else right
            )
            return equal if operator == "==" else not equal
        pattern = right if isinstance(right, re.Pattern) else _parse_regex_literal(right)
        if pattern is None:
            raise CiConfigError(f"invalid expression syntax: {self.source!r} (right of {operator} is not a regex)")
        matched = isinstance(left, str) and pattern.search(left) is not None
        return matched if operator == "=~" else not matched

    def operand(self) -> str | re.Pattern[str] | None:
        token = self.take()
        if token.kind == "var":
            return self.scope.get(token.text)
        if token.kind == "string":
            return token.text
        if token.kind == "null":
            return None
        if token.kind == "regex":
            return _parse_regex_literal(token.text)
        raise CiConfigError(f"invalid expression syntax: {self.source!r}")


def evaluate_expression(expression: str, variables: Mapping[str, str]) -> bool:
    """Evaluate a `rules:if` / `only:variables` expression against variables (undefined = null)."""
    return _Parser(_tokenize(expression), variables, expression).parse()
