"""`include:` resolved from files pc-release can read itself: local includes, at the SHA being read.

This is the offline reader, used when GitLab's own merged configuration (the CI Lint API, see pc_release.ci.lint)
is not at hand. Any other kind of include (project, remote, template, component) is left unresolved and named, so a
verdict can say what it did not see. A caller that can read more (the sandbox GitLab reads `project:` includes of
its own project) passes `fetch` for the includes that are not local.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pc_release.ci.document import deep_merge, parse_file, resolve_extends, resolve_references
from pc_release.ci.errors import CiConfigError

MAX_INCLUDES = 150
Reader = Callable[[str], str | None]


@dataclass(frozen=True)
class Source:
    """Where a file's local includes are read from: a project at a commit (both None when unknown)."""

    read: Reader
    project: str | None = None
    sha: str | None = None


@dataclass(frozen=True)
class Fetched:
    """One file an include brought in, with GitLab's include type (`local`, `file`, ...) and where its own local
    includes are read from."""

    type: str
    location: str
    text: str
    source: Source
    extra: Mapping[str, Any] = field(default_factory=dict)


# Reads the files of a non-local include item; None when it cannot (the include is then named as unresolved).
Fetch = Callable[[Mapping[str, Any], Source], list[Fetched] | None]


@dataclass
class Expanded:
    """A configuration with its includes merged in, `extends` and `!reference` resolved."""

    document: dict[str, Any]
    # Each file brought in, with the source of the file that included it (GitLab's include "context").
    included: list[tuple[Fetched, Source]] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)


def expand(text: str, entry: str, source: Source, fetch: Fetch | None = None) -> Expanded:
    """Merge `text` (the file `entry`) with its includes as GitLab does; CiConfigError on what GitLab refuses."""
    result = Expanded(document={})
    seen = {(source.project, entry.lstrip("/"))}
    document = _expand(parse_file(text, entry), source, fetch, seen, result)
    try:
        result.document = resolve_references(resolve_extends(document))
    except CiConfigError as err:
        if result.unresolved:
            raise CiConfigError(f"{err} ({unseen_includes_note(result.unresolved)})") from None
        raise
    return result


def unseen_includes_note(unresolved: Iterable[str]) -> str:
    """How to read a verdict on a configuration some of whose includes were not read."""
    return (
        f"the configuration also includes {', '.join(unresolved)}, which pc-release does not fetch; a job or "
        "template defined there is not seen here"
    )


def include_items(spec: Any) -> list[dict[str, Any]]:
    """The items of an `include:` value in GitLab's long form (a bare string is local, or remote for a URL)."""
    items = spec if isinstance(spec, list) else [spec]
    normal = []
    for item in items:
        if isinstance(item, str):
            normal.append({"remote": item} if re.match(r"^https?://", item) else {"local": item})
        elif isinstance(item, dict):
            normal.append(item)
        else:
            normal.append({"invalid": item})
    return normal


def describe_include(item: Mapping[str, Any]) -> str:
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
    if "invalid" in item:
        return f"include {item['invalid']!r}"
    return f"include {sorted(item)}"


def _inputs(item: Mapping[str, Any]) -> dict[str, Any]:
    inputs = item.get("inputs")
    return dict(inputs) if isinstance(inputs, dict) else {}


def _local(item: Mapping[str, Any], source: Source) -> Fetched:
    raw_path = item["local"]
    path = raw_path.lstrip("/")
    text = source.read(path)
    if text is None:
        raise CiConfigError(f"Local file `{raw_path}` does not exist!")
    return Fetched("local", path, text, source, {k: v for k, v in item.items() if k != "local"})


def _expand(
    document: dict[str, Any],
    source: Source,
    fetch: Fetch | None,
    seen: set[tuple[str | None, str]],
    result: Expanded,
) -> dict[str, Any]:
    """Included files are merged first, in order; the including file's own keys win."""
    if "include" not in document:
        return document
    # Every item of this file is looked at before any included file is read, as GitLab maps them first.
    mapped: list[tuple[dict[str, Any], list[Fetched]]] = []
    for item in include_items(document["include"]):
        if isinstance(item.get("local"), str):
            mapped.append((item, [_local(item, source)]))
            continue
        fetched = fetch(item, source) if fetch is not None else None
        if fetched is None:
            result.unresolved.append(describe_include(item))
        else:
            mapped.append((item, fetched))
    merged: dict[str, Any] = {}
    for item, files in mapped:
        for file in files:
            key = (file.source.project, file.location)
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > MAX_INCLUDES:
                raise CiConfigError(f"Maximum of {MAX_INCLUDES} nested includes are allowed!")
            result.included.append((file, source))
            own = parse_file(file.text, file.location, _inputs(item))
            merged = deep_merge(merged, _expand(own, file.source, fetch, seen, result))
    own = {key: value for key, value in document.items() if key != "include"}
    return deep_merge(merged, own)
