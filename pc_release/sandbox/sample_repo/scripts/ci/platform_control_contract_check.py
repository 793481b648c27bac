#!/usr/bin/env python3
"""Contract jobs openapi-contract / asyncapi-contract: structural validation of api/openapi.yaml and
api/asyncapi.yaml (versions, unique operation ids, resolvable $refs, declared path parameters)."""

from __future__ import annotations

import re
import sys

import yaml
from platform_control_ci import ROOT, fail

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def refs(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in refs(item)]
    return []


def resolves(document: dict, ref: str) -> bool:
    if not ref.startswith("#/"):
        return False
    node: object = document
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def openapi_problems(doc: dict) -> list[str]:
    problems = [] if str(doc.get("openapi", "")).startswith("3.") else ["openapi: must be a 3.x document"]
    problems += [f"info.{key} is required" for key in ("title", "version") if not doc.get("info", {}).get(key)]
    schemes = set(doc.get("components", {}).get("securitySchemes", {}))
    seen: set[str] = set()
    for path, methods in doc.get("paths", {}).items():
        for method, operation in methods.items():
            if method not in HTTP_METHODS:
                continue
            where = f"{method.upper()} {path}"
            op_id = operation.get("operationId")
            if not op_id or op_id in seen:
                problems.append(f"{where}: operationId missing or duplicated ({op_id})")
            seen.add(op_id)
            if not operation.get("summary"):
                problems.append(f"{where}: summary is required (it becomes the SDK docstring)")
            if not any(str(status).startswith("2") for status in operation.get("responses", {})):
                problems.append(f"{where}: no 2xx response")
            declared = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"}
            for name in set(re.findall(r"{(\w+)}", path)) - declared:
                problems.append(f"{where}: path parameter {name} is not declared")
            for requirement in operation.get("security", doc.get("security", [])):
                problems += [f"{where}: unknown security scheme {s}" for s in requirement if s not in schemes]
    return problems


def asyncapi_problems(doc: dict) -> list[str]:
    problems = [] if str(doc.get("asyncapi", "")).startswith("2.") else ["asyncapi: must be a 2.x document"]
    seen: set[str] = set()
    for name, channel in doc.get("channels", {}).items():
        operations = [channel[kind] for kind in ("publish", "subscribe") if kind in channel]
        if not operations:
            problems.append(f"channel {name}: neither publish nor subscribe")
        for operation in operations:
            op_id = operation.get("operationId")
            if not op_id or op_id in seen:
                problems.append(f"channel {name}: operationId missing or duplicated ({op_id})")
            seen.add(op_id)
            if "message" not in operation:
                problems.append(f"channel {name}: operation {op_id} has no message")
    return problems


def main() -> int:
    kinds = {"openapi": ("api/openapi.yaml", openapi_problems), "asyncapi": ("api/asyncapi.yaml", asyncapi_problems)}
    if len(sys.argv) != 2 or sys.argv[1] not in kinds:
        fail("usage: platform_control_contract_check.py openapi|asyncapi")
    path, check = kinds[sys.argv[1]]
    document = yaml.safe_load((ROOT / path).read_text())
    problems = check(document) + [f"unresolvable $ref {r}" for r in refs(document) if not resolves(document, r)]
    if problems:
        fail("\n  ".join([f"{path} breaks the contract rules:", *problems]))
    print(
        f"{sys.argv[1]}-contract: {path} ({document['info']['title']} {document['info']['version']}) is valid, "
        f"{len(refs(document))} $refs resolved"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
