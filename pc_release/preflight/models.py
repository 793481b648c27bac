"""Records of the local preflight's inner workings: command runs, parsed test reports, overlay parity."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pc_release.models import Record

CaseResult = Literal["passed", "failed", "flaky", "skipped"]
COUNT_KEYS: tuple[CaseResult, ...] = ("passed", "failed", "flaky", "skipped")


class CommandResult(Record):
    """What one preflight command did in its worktree. `output` is stdout+stderr, token-redacted."""

    command: list[str]
    cwd: str
    workdir: str = Field(description="Root of the temporary worktree the command ran in (gone afterwards).")
    started: bool = True
    exit_code: int | None = None
    timed_out: bool = False
    timeout_seconds: float | None = None
    duration_seconds: float = 0.0
    output: str = ""
    files: dict[str, str | None] = Field(
        default_factory=dict, description="Report files read back from the worktree; None when absent."
    )


class CaseOutcome(Record):
    """One test as its report tells it: Playwright's per-project test, or a JUnit testcase."""

    title: str
    location: str
    project: str | None = None
    result: CaseResult
    attempts: int = 1
    messages: list[str] = Field(default_factory=list)


class SuiteReport(Record):
    """A parsed test report, whatever its format, counted by Playwright's own outcome rules."""

    format: str
    cases: list[CaseOutcome] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list, description="Errors outside any test (setup, web server).")
    duration_seconds: float | None = None
    declared: dict[str, int] = Field(
        default_factory=dict, description="The totals the report itself states (Playwright stats, JUnit attributes)."
    )
    tool_version: str | None = None
    shard: str | None = Field(
        None, description='"current/total" when the run covered one shard of the suite (Playwright config.shard).'
    )

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(COUNT_KEYS, 0)
        for case in self.cases:
            counts[case.result] += 1
        return counts

    def with_result(self, result: CaseResult) -> list[CaseOutcome]:
        return [case for case in self.cases if case.result == result]


ParitySide = Literal["kind", "platform", "live"]


class ParityDifference(Record):
    """Something one side has and the other lacks, e.g. env `DEBUG_TOOLBAR` of web/web only in kind."""

    kind: str
    name: str
    owner: str | None = Field(None, description="WORKLOAD/CONTAINER for env vars.")
    present_in: ParitySide
    missing_from: ParitySide
    source: str = ""
    allowed: bool = False

    @property
    def label(self) -> str:
        where = f" ({self.owner})" if self.owner else ""
        return f"{self.kind}:{self.name}{where} only in {self.present_in}"


class ParityResult(Record):
    """The comparison of two sides (two overlays, or the live cluster and an overlay)."""

    left: str
    right: str
    differences: list[ParityDifference] = Field(default_factory=list)
    stale_allow: list[str] = Field(default_factory=list, description="Allow-list entries that matched nothing.")
    compared: dict[str, int] = Field(default_factory=dict, description="How many items of each kind were compared.")

    @property
    def drift(self) -> list[ParityDifference]:
        return [d for d in self.differences if not d.allowed]

    @property
    def allowed(self) -> list[ParityDifference]:
        return [d for d in self.differences if d.allowed]
