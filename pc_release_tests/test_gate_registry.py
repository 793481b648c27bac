"""The gate registry is the one list of promotion gates: the code location's checks, the README's gate table and
the promotion jobs' selection all follow it; and no pc-release module imports the wiring module back."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from pc_release.definitions import build_definitions
from pc_release.policy.gates import CHECKLIST, GATES, PROMOTION_ASSETS, checklist_gates, render_table

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- gate-table:start", "<!-- gate-table:end -->"


def test_the_readme_gate_table_is_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count(START) == 1 and readme.count(END) == 1, "the README lost its gate-table markers"
    shown = readme.split(START, 1)[1].split("\n", 1)[1].split(END, 1)[0].strip()
    assert shown == render_table(), (
        "README.md's gate table differs from pc_release/policy/gates.py; paste render_table() between the markers"
    )


@pytest.mark.parametrize("job_name", ["promote_release", "dev_test_deploy"])
def test_each_promotion_job_runs_exactly_the_registered_gates_on_the_promotion_assets(job_name):
    job = build_definitions().resolve_job_def(job_name)
    graph = job.asset_layer.asset_graph
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == set(PROMOTION_ASSETS)
    checks = {key.name: graph.get(key) for key in graph.asset_check_keys}
    assert sorted(checks) == sorted(g.name for g in GATES)
    for gate in GATES:
        spec = checks[gate.name]
        assert (spec.key.asset_key.to_user_string(), spec.blocking, spec.description) == (
            gate.asset,
            gate.blocking,
            gate.description,
        ), gate.name


def test_every_checklist_item_is_proved_by_some_registered_gate():
    assert list(checklist_gates()) == list(CHECKLIST)
    assert all(checklist_gates().values())
    assert {g.checklist for g in GATES if g.checklist} <= set(CHECKLIST)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every pc_release module `path` imports, at module level or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found & modules


def test_no_import_cycle_among_the_code_location_modules():
    # The sandbox (the embedded GitLab) is not part of the code location and is not held to this here.
    files = {
        _module_name(p): p for p in (ROOT / "pc_release").rglob("*.py") if "sandbox" not in p.relative_to(ROOT).parts
    }
    graph = {name: _imports(path, set(files)) - {name} for name, path in files.items()}
    # The domains are what the wiring module assembles; none of them may reach back for the assembly.
    back = sorted(
        n for n, deps in graph.items() if n.startswith("pc_release.defs.") and "pc_release.definitions" in deps
    )
    assert not back, f"these domain modules import pc_release.definitions: {', '.join(back)}"

    def cycle_from(start: str) -> list[str] | None:
        path, seen = [start], set()
        stack = [iter(sorted(graph[start]))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                seen.add(path.pop())
                continue
            if nxt == start:
                return [*path, start]
            if nxt not in seen and nxt not in path:
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
        return None

    cycles = [cycle for name in sorted(graph) if (cycle := cycle_from(name))]
    assert not cycles, "import cycle: " + " -> ".join(cycles[0])


def test_the_audit_domain_loads_before_the_wiring_module():
    """The plan gets its gates from the registry, so the audit domain imports on its own, in a fresh interpreter."""
    code = (
        "import sys\n"
        "import pc_release.defs.audit.definitions as audit\n"
        "assert 'pc_release.definitions' not in sys.modules\n"
        "import dagster as dg\n"
        "keys = {k for a in audit.defs.assets for k in getattr(a, 'keys', None) or [a.key]}\n"
        "assert dg.AssetKey('promotion_plan') in keys\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def _string_literals(path: Path) -> list[tuple[int, str, str | None]]:
    """Each string constant in `path` (docstrings and other bare string statements left out), with its line and,
    when it is the whole value of a module-level `NAME = "..."`, the name it declares."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    declared = {
        id(node.value): node.targets[0].id
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
    }
    bare = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }
    return [
        (node.lineno, node.value, declared.get(id(node)))
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in bare
    ]


def test_each_gate_name_is_written_once_as_the_constant_beside_its_rule():
    # The sandbox (the embedded GitLab and its sample repository) is not part of the code location.
    names = {g.name for g in GATES}
    found: dict[str, list[str]] = {name: [] for name in names}
    declarations: dict[str, list[str]] = {name: [] for name in names}
    for path in sorted((ROOT / "pc_release").rglob("*.py")):
        where = path.relative_to(ROOT)
        if "sandbox" in where.parts:
            continue
        for line, value, constant in _string_literals(path):
            if value not in names:
                continue
            if constant is not None and constant.isupper() and where.parts[:2] == ("pc_release", "policy"):
                declarations[value].append(f"{where}:{line} {constant}")
            else:
                found[value].append(f"{where}:{line}")
    repeated = {name: places for name, places in found.items() if places}
    assert not repeated, f"gate names written as literals instead of their constant: {repeated}"
    not_once = {name: places for name, places in declarations.items() if len(places) != 1}
    assert not not_once, f"each gate name needs exactly one NAME = '...' constant in pc_release/policy: {not_once}"
