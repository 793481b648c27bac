"""Generated artifacts up to date: the declared codegen command, run in a throwaway `git worktree` of the
exact SHA (the preflight's command runner: token-free environment, process group killed on timeout), must
leave the declared generated paths exactly as committed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pc_release.errors import GitOperationError
from pc_release.readiness.models import CodegenOutcome
from pc_release.release_config import CodegenConfig
from pc_release.resources.commands import CommandRunnerResource

CODEGEN_TIMEOUT_SECONDS = 600
_DIFF_LIMIT = 4000


def _git(tree: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True, check=False).stdout


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def check_generated(
    commands: CommandRunnerResource,
    repo: Path,
    sha: str,
    codegen: CodegenConfig,
    timeout: float = CODEGEN_TIMEOUT_SECONDS,
) -> CodegenOutcome:
    """Run `codegen.command` at `sha` and list the generated paths it changed, created or left absent."""
    base = CodegenOutcome(command=codegen.command)
    try:
        with commands.worktree(repo, sha) as tree:
            result = commands.run(codegen.command, cwd=tree, env={}, timeout=timeout)
            if not result.started:
                return base.model_copy(update={"error": result.output})
            if result.timed_out:
                return base.model_copy(
                    update={"error": f"still running after {timeout:g}s; killed", "output_tail": _tail(result.output)}
                )
            if result.exit_code != 0:
                return base.model_copy(
                    update={
                        "exit_code": result.exit_code,
                        "error": f"exited with {result.exit_code}",
                        "output_tail": _tail(result.output),
                    }
                )
            return _compare(base, tree, codegen.generated_paths, result.output)
    except GitOperationError as err:
        return base.model_copy(update={"error": err.detail})


def _compare(base: CodegenOutcome, tree: Path, paths: list[str], output: str) -> CodegenOutcome:
    status = _git(tree, "status", "--porcelain=v1", "--untracked-files=all", "--", *paths)
    stale = sorted({line[3:].strip() for line in status.splitlines() if line.strip()})
    stale += sorted(
        f"{path} (declared generated, but absent after codegen)" for path in paths if not (tree / path).exists()
    )
    diff = _git(tree, "diff", "--stat", "--patch", "--", *paths) if stale else ""
    return base.model_copy(
        update={
            "exit_code": 0,
            "output_tail": _tail(output),
            "stale": stale,
            "diff": diff if len(diff) <= _DIFF_LIMIT else diff[:_DIFF_LIMIT] + "\n... (diff truncated)",
        }
    )
