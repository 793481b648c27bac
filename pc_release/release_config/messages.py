"""`.pc-release.yaml`'s error: one line per defect, each naming file and field, in words for the repo's
maintainers rather than pydantic's (unknown fields with the allowed ones and a close match, types in plain words)."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel

from pc_release.errors import ConfigurationError


class ReleaseConfigError(ConfigurationError, ValueError):
    """`.pc-release.yaml` cannot be used; `problems` holds one line per defect, each naming file and field."""

    rule = "release-config"

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


_TYPE_MESSAGES = {
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
}


def describe(source: str, error: Any, model: type[BaseModel]) -> str:
    """One line for one pydantic error of validating a `model` document read from `source`."""
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        message = _unknown_field_message(loc, model)
    elif kind == "missing":
        message = "required field is missing"
    elif kind == "greater_than":
        message = f"must be > {ctx['gt']:g}"
    elif kind == "too_short":
        message = "must not be empty"
    elif kind == "literal_error":
        message = f"must be one of {ctx['expected']}"
    elif kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
    elif kind in _TYPE_MESSAGES:
        message = f"{_TYPE_MESSAGES[kind]} (got {_short(error['input'])})"
    else:
        message = error["msg"][0].lower() + error["msg"][1:]
    where = ".".join(str(part) for part in loc) or "(top level)"
    return f"{source}: {where}: {message}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_field_message(loc: tuple[Any, ...], model: type[BaseModel]) -> str:
    allowed = _fields_at(loc[:-1], model)
    if not allowed:
        return "unknown field"
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown field; {hint}allowed: {', '.join(allowed)}"


def _fields_at(loc: tuple[Any, ...], model: type[BaseModel]) -> list[str]:
    """The YAML keys accepted by the model found at `loc` of a `model` document."""
    annotation: Any = model
    parts = list(loc)
    while True:
        annotation = _unwrap_optional(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if not parts:
                return [field.alias or name for name, field in annotation.model_fields.items()]
            part = parts.pop(0)
            by_key = {field.alias or name: field for name, field in annotation.model_fields.items()}
            if part not in by_key:
                return []
            annotation = by_key[part].annotation
        elif typing.get_origin(annotation) in (dict, list) and parts:
            parts.pop(0)
            annotation = typing.get_args(annotation)[-1]
        else:
            return []


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation
