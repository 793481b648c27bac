"""Who may do what: GitLab's access levels for the request's token, and protected-branch push/merge rules."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

# GitLab's access levels (Members API).
REPORTER, DEVELOPER, MAINTAINER = 20, 30, 40


class Access:
    """The sandbox's tokens (one Maintainer, optional Developers and Reporters) and protected branches."""

    def __init__(
        self,
        token: str,
        developer_tokens: tuple[str, ...],
        reporter_tokens: tuple[str, ...],
        protected: Mapping[str, tuple[int, int]],
    ) -> None:
        self._token = token
        # Tokens of a Developer: they run pipelines, except on a protected branch they may not push or merge to.
        self._developer_tokens = tuple(t for t in developer_tokens if t)
        # Tokens of a Reporter: they may read the project and its pipelines but not run pipelines (403).
        self._reporter_tokens = tuple(t for t in reporter_tokens if t)
        # Branch -> (push, merge) access level, as GitLab's protected branches hold them (0: no one).
        self.protected = dict(protected)

    def request_level(self, headers: Mapping[str, str]) -> int:
        """GitLab's access level of the request's token: 40 (Maintainer), 20 (Reporter) or 0 (unknown token)."""
        supplied = headers.get("PRIVATE-TOKEN") or ""
        authorization = headers.get("Authorization") or ""
        if not supplied and authorization.startswith("Bearer "):
            supplied = authorization.removeprefix("Bearer ")
        return self.token_level(supplied)

    def token_level(self, supplied: str) -> int:
        if hmac.compare_digest(supplied.encode(), self._token.encode()):
            return MAINTAINER
        if any(hmac.compare_digest(supplied.encode(), t.encode()) for t in self._developer_tokens):
            return DEVELOPER
        if any(hmac.compare_digest(supplied.encode(), t.encode()) for t in self._reporter_tokens):
            return REPORTER
        return 0

    def may_write(self, branch: str, access_level: int) -> tuple[bool, bool]:
        """(may push, may merge) on `branch` for a user of this access level."""
        if branch not in self.protected:
            return access_level >= DEVELOPER, access_level >= DEVELOPER
        push, merge = self.protected[branch]
        return bool(push) and access_level >= push, bool(merge) and access_level >= merge
