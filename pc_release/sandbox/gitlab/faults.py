"""Fault injection: API requests that fail (5xx, 429 with Retry-After) or answer slowly, to exercise retries."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus

from pc_release.sandbox.gitlab.http import Response, json_response

FAULT_KINDS = ("500", "502", "503", "504", "429", "slow")
FAULT_MESSAGES = {
    500: "500 Internal Server Error",
    502: "502 Bad Gateway",
    503: "503 Service Unavailable",
    504: "504 Gateway Timeout",
}


@dataclass
class FaultPlan:
    rate: float = 0.0
    kinds: tuple[str, ...] = ("502", "503", "429", "slow")
    slow_seconds: float = 0.3
    retry_after: int = 1
    rng: random.Random = field(default_factory=random.Random)


class Faults:
    """A random fault rate and a queue of faults for the next requests; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.plan = FaultPlan()
        self._fail_next: list[tuple[int, int | None]] = []

    def configure(
        self,
        rate: float = 0.0,
        kinds: tuple[str, ...] = ("502", "503", "429", "slow"),
        seed: int | None = None,
        slow_seconds: float = 0.3,
        retry_after: int = 1,
    ) -> None:
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown or not 0.0 <= rate <= 1.0:
            raise ValueError(f"faults: rate must be within [0, 1] and kinds within {FAULT_KINDS}")
        with self._lock:
            self.plan = FaultPlan(rate, tuple(kinds), slow_seconds, retry_after, random.Random(seed))

    def fail_next(self, n: int, status: int = 502, retry_after: int | None = None) -> None:
        """The next `n` API requests fail with `status` (429 carries Retry-After)."""
        if status < 400 or status not in {member.value for member in HTTPStatus}:
            raise ValueError(f"fail_next: {status} is not an HTTP error status")
        with self._lock:
            self._fail_next.extend([(status, retry_after)] * n)

    def next(self) -> tuple[int | str, int | None] | None:
        """(HTTP status or "slow", Retry-After) for this request, or None."""
        with self._lock:
            if self._fail_next:
                status, retry_after = self._fail_next.pop(0)
                return status, retry_after if retry_after is not None else self.plan.retry_after
            plan = self.plan
            if plan.rate <= 0 or plan.rng.random() >= plan.rate:
                return None
            kind = plan.rng.choice(plan.kinds)
            return (kind if kind == "slow" else int(kind)), plan.retry_after

    def answer(self) -> Response | None:
        """The injected answer for this API request, None to serve it (after a delay, for a slow fault)."""
        fault = self.next()
        if fault is None:
            return None
        kind, retry_after = fault
        if kind == "slow":
            time.sleep(self.plan.slow_seconds)
            return None
        if kind == 429:
            # GitLab's Rack::Attack throttle: plain text "Retry later\n" (Gitlab::Throttle) and Retry-After.
            return Response(429, b"Retry later\n", "text/plain", {"Retry-After": str(retry_after or 0)})
        status = int(kind)
        return json_response(status, {"message": FAULT_MESSAGES.get(status, str(status))})


@dataclass
class MasterCiPlan:
    """A master pipeline slowed (its jobs run no earlier to an end than `slow_seconds` after it was created) or
    failed (its jobs exit 1): how a demo shows a promotion launched before master CI is green."""

    slow_seconds: float = 0.0
    fail: bool = False

    def script_prefix(self, created_at: float) -> tuple[str, ...]:
        lines = []
        hold = created_at + self.slow_seconds - time.time()
        if hold > 0:
            lines.append(f'echo "sandbox GitLab (slow master CI): holding this job {hold:.0f}s"; sleep {hold:.1f}')
        if self.fail:
            lines.append('echo "sandbox GitLab (fail master CI): failing this job"; exit 1')
        return tuple(lines)
