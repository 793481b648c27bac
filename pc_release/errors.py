"""One error hierarchy for pc-release; every refusal names the policy rule it enforces."""

from __future__ import annotations


class PcReleaseError(Exception):
    """Base of every error pc-release raises on purpose.

    `rule` is the short, stable name of the policy rule that was broken, so operators (and tests) can tell
    refusals apart without parsing prose.
    """

    rule: str = "pc-release"

    def __init__(self, message: str, *, rule: str | None = None, evidence: dict | None = None) -> None:
        if rule is not None:
            self.rule = rule
        super().__init__(f"[{self.rule}] {message}")
        self.detail = message
        # What the rule judged (a verdict's evidence), shown with a refusal in the UI.
        self.evidence = evidence or {}


class PromotionBlocked(PcReleaseError):
    """A gate refused the promotion; nothing was pushed or triggered by the step that raised it."""

    rule = "promotion-blocked"


class InvalidInput(PcReleaseError):
    """Operator input (ref, mode, profile, flags) that the policy does not accept."""

    rule = "invalid-input"


class GitOperationError(PcReleaseError):
    """A git command failed for a reason other than a policy refusal."""

    rule = "git"


class LeaseLost(GitOperationError):
    """The release branch moved between our read and our push; the concurrent value was kept."""

    rule = "release-branch-lease"


class GitLabError(PcReleaseError):
    """GitLab refused or failed a request (after python-gitlab's own transient retries)."""

    rule = "gitlab"


class ConfigurationError(PcReleaseError):
    """pc-release itself is misconfigured (settings, token, release config)."""

    rule = "configuration"


# The policy's refusals: a rule said no, and a retry without a change cannot help (the CLI exits 2 for these).
REFUSALS = (InvalidInput, PromotionBlocked, ConfigurationError, LeaseLost)


def redact(text: str, *secrets: str | None) -> str:
    """Replace every non-empty secret in `text`; used on anything that may echo a request back."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    return text
