"""The sandbox's sample platform-control repository: copy the template, or publish it to a local origin."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

SAMPLE_REPO_TEMPLATE = Path(__file__).resolve().parent / "sample_repo"
MASTER_BRANCH = "master"
RELEASE_BRANCH = "release/platform-control"

# Left behind when the sample is run in place (tests, preflight, CI jobs); never part of the sample.
_RUN_OUTPUTS = shutil.ignore_patterns(
    "__pycache__",
    "node_modules",
    "test-results",
    "dist",
    "evidence",
    "playwright-report.json",
    "runtime-digest.env",
    "runtime-digests.env",
)
_EXECUTABLE = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


def materialize_sample_repo(dest: Path) -> Path:
    """Copy the sample repository into `dest` (a plain working tree, not yet a git repo) and return it.

    Scripts (files starting with "#!") are made executable even when the installed template lost its mode
    bits, so the copy behaves the same from a checkout and from an installed package.
    """
    dest = Path(dest)
    shutil.copytree(SAMPLE_REPO_TEMPLATE, dest, ignore=_RUN_OUTPUTS, dirs_exist_ok=True)
    for path in dest.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(2) == b"#!":
                    path.chmod(path.stat().st_mode | _EXECUTABLE)
    return dest


def create_sample_origin(workdir: Path) -> tuple[Path, Path]:
    """Publish the sample as `workdir/origin.git` (bare) with a clone at `workdir/clone`.

    The clone holds one commit of the sample on master; release/platform-control points at the same
    commit; both branches are pushed and tracked. Returns (origin, clone).
    """
    workdir = Path(workdir)
    origin, clone = workdir / "origin.git", workdir / "clone"
    workdir.mkdir(parents=True, exist_ok=True)
    _git(workdir, "init", "--quiet", "--bare", f"--initial-branch={MASTER_BRANCH}", str(origin))
    materialize_sample_repo(clone)
    _git(clone, "init", "--quiet", f"--initial-branch={MASTER_BRANCH}")
    _git(clone, "config", "user.name", "pc-release sandbox")
    _git(clone, "config", "user.email", "pc-release-sandbox@localhost")
    _git(clone, "config", "commit.gpgsign", "false")
    _git(clone, "add", "--all")
    _git(clone, "commit", "--quiet", "-m", "platform-control: sample repository")
    _git(clone, "branch", RELEASE_BRANCH)
    _git(clone, "remote", "add", "origin", str(origin))
    _git(clone, "push", "--quiet", "--set-upstream", "origin", MASTER_BRANCH, RELEASE_BRANCH)
    return origin, clone


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip()}")
    return result.stdout
