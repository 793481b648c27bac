"""Generated artifacts checked by running the declared codegen in a throwaway worktree of the exact SHA."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pc_release.policy.readiness import generated_artifacts_fresh
from pc_release.readiness.codegen import check_generated
from pc_release.release_config import CodegenConfig
from pc_release.resources.commands import CommandRunnerResource
from pc_release_tests.gitworld import git

GENERATOR = """\
import os, pathlib
contract = pathlib.Path("api.txt").read_text()
leaked = "token visible" if "PC_RELEASE_GITLAB_TOKEN" in os.environ else "no token"
pathlib.Path("gen").mkdir(exist_ok=True)
pathlib.Path("gen/client.py").write_text(f"VERSION = {contract.strip()!r}  # {leaked}\\n")
"""


@pytest.fixture
def repo(tmp_path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "master")
    git(repo, "config", "user.email", "dev@example.test")
    git(repo, "config", "user.name", "Dev")
    (repo / "gen.py").write_text(GENERATOR)
    (repo / "api.txt").write_text("1.0\n")
    (repo / "gen").mkdir()
    (repo / "gen/client.py").write_text("VERSION = '1.0'  # no token\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "sdk 1.0")
    return repo


def commit(repo: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")
    return git(repo, "rev-parse", "HEAD")


CODEGEN = CodegenConfig(command=[sys.executable, "gen.py"], generated_paths=["gen/client.py"])


def test_fresh_artifacts_pass_and_pc_release_secrets_stay_out_of_the_generator(repo):
    outcome = check_generated(CommandRunnerResource(), repo, git(repo, "rev-parse", "HEAD"), CODEGEN)
    assert (outcome.exit_code, outcome.stale, outcome.error) == (0, [], "")
    assert generated_artifacts_fresh(outcome).ok


def test_contract_change_without_regeneration_lists_the_stale_files(repo):
    sha = commit(repo, {"api.txt": "2.0\n"})
    (repo / "api.txt").write_text("dirty working tree, not the SHA\n")

    outcome = check_generated(CommandRunnerResource(), repo, sha, CODEGEN)

    assert outcome.stale == ["gen/client.py"]
    assert "+VERSION = '2.0'  # no token" in outcome.diff
    verdict = generated_artifacts_fresh(outcome)
    assert not verdict.ok and verdict.evidence["stale"] == ["gen/client.py"]
    assert (repo / "api.txt").read_text() == "dirty working tree, not the SHA\n"
    assert git(repo, "worktree", "list").count("\n") == 0


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ([sys.executable, "-c", "raise SystemExit(3)"], "exited with 3"),
        (["no-such-codegen-binary"], "cannot execute 'no-such-codegen-binary'"),
    ],
)
def test_generator_that_cannot_run_blocks(repo, command, error):
    codegen = CodegenConfig(command=command, generated_paths=["gen/client.py"])
    outcome = check_generated(CommandRunnerResource(), repo, git(repo, "rev-parse", "HEAD"), codegen)
    assert error in outcome.error
    assert not generated_artifacts_fresh(outcome).ok


def test_declared_generated_path_the_generator_never_writes_is_stale(repo):
    codegen = CodegenConfig(command=CODEGEN.command, generated_paths=["gen/client.py", "gen/types.py"])
    outcome = check_generated(CommandRunnerResource(), repo, git(repo, "rev-parse", "HEAD"), codegen)
    assert outcome.stale == ["gen/types.py (declared generated, but absent after codegen)"]
