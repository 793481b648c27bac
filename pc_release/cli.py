"""`pc-release`: the operator and CI front end; promotions run as Dagster jobs on the DAGSTER_HOME instance."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from pc_release.errors import REFUSALS, ConfigurationError, PcReleaseError
from pc_release.settings import Settings

# Exit statuses, the same for every command (README: "Refusals and exit statuses").
EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
# A refusal is pc-release saying no by a rule of the policy (errors.REFUSALS); anything else that stops a command
# (git or GitLab failing, a crash) is a failure, which a retry may cure.
# How Dagster names the failure of a step whose blocking asset check failed: a gate refused.
_BLOCKING_CHECK_FAILED = "DagsterAssetCheckFailedError"
_REFUSED_STEP = "refused"


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as err:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in err.errors())
        raise ConfigurationError(f"invalid environment: {problems}", rule="settings") from None


def _add_promotion_arguments(parser: argparse.ArgumentParser, *, dev_test: bool) -> None:
    parser.add_argument(
        "source_ref",
        nargs="?",
        help="ref or full SHA to promote (default "
        + ("HEAD" if dev_test else "the remote's master: refs/remotes/origin/master unless PC_RELEASE_REMOTE says")
        + ")",
    )
    parser.add_argument("--mode", choices=None, help="full | deploy (PLATFORM_CONTROL_RELEASE_MODE)")
    parser.add_argument("--profile", help="standard | web-fast (PLATFORM_CONTROL_RELEASE_PROFILE)")
    parser.add_argument("--preflight-scope", help="scoped frontend preflight: debugging override only")
    parser.add_argument("--require-local-preflight", action="store_true", default=None)
    if not dev_test:
        parser.add_argument("--skip-local-preflight", action="store_true", default=None)
        parser.add_argument(
            "--allow-divergence",
            action="store_true",
            default=None,
            help="incident-only override (PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE)",
        )
        parser.add_argument(
            "--transient-retry",
            metavar="REASON",
            help="re-run a failed release SHA: name the infrastructure fault",
        )


def _run_config(args: argparse.Namespace) -> dict:
    config = {
        "source_ref": args.source_ref,
        "mode": args.mode,
        "profile": args.profile,
        "preflight_scope": args.preflight_scope,
        "require_local_preflight": args.require_local_preflight,
        "skip_local_preflight": getattr(args, "skip_local_preflight", None),
        "allow_divergence": getattr(args, "allow_divergence", None),
        "transient_retry_reason": getattr(args, "transient_retry", None),
    }
    return {"ops": {"source_commit": {"config": {k: v for k, v in config.items() if v is not None}}}}


def run_promotion(job_name: str, args: argparse.Namespace, out=None) -> int:
    """Validate the request, then execute the job in-process on the instance the UI reads."""
    out = out or sys.stdout
    settings = _settings()  # before importing the code location, which reads the same environment

    import dagster as dg

    from pc_release.definitions import build_definitions
    from pc_release.defs.promotion.config import DEV_TEST_JOB, PromotionConfig
    from pc_release.defs.promotion.run_tags import OPERATOR_TAG
    from pc_release.policy.promotion import MODES, PROFILES, validate_mode, validate_profile
    from pc_release.reporting import summarize_run
    from pc_release.resources.gitlab import TOKEN_ENV_VAR
    from pc_release.resources.policy import ReleasePolicyResource

    flags = _run_config(args)["ops"]["source_commit"]["config"]
    # Refused by the policy's rule before the config's choices would reject the value without naming it.
    validate_mode(flags.get("mode", MODES[0]))
    validate_profile(flags.get("profile", PROFILES[0]))
    config = PromotionConfig(**flags)
    request = config.to_request(dev_test=job_name == DEV_TEST_JOB, policy=ReleasePolicyResource.from_settings(settings))
    if not os.environ.get(TOKEN_ENV_VAR):
        raise ConfigurationError(f"no GitLab token: set {TOKEN_ENV_VAR}", rule="gitlab-token")
    print(
        f"pc-release: {request.kind} of {request.source_ref} (mode {request.mode}, profile {request.profile})",
        file=out,
    )
    job = build_definitions(settings).resolve_job_def(job_name)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            run_config=_run_config(args),
            instance=instance,
            raise_on_error=False,
            tags={OPERATOR_TAG: getpass.getuser()},
        )
        summary = summarize_run(instance, result.run_id)
    print(summary.text, file=out)
    return _run_exit_status(result)


def _run_exit_status(result) -> int:
    """A run that stopped only because rules refused it exits like a refusal before the run does."""
    if result.success:
        return EXIT_OK
    causes = []
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        if data.user_failure_data and "rule" in data.user_failure_data.metadata:
            causes.append(_REFUSED_STEP)  # defs/promotion/refusal.py: a refusal raised as a dg.Failure
            continue
        error = data.error
        causes.append((error.cause or error).cls_name if error else None)
    # The event log keeps only the class name of an error: collect the names of every refusal class.
    refusals, classes = {_BLOCKING_CHECK_FAILED, _REFUSED_STEP}, list(REFUSALS)
    while classes:
        cls = classes.pop()
        refusals.add(cls.__name__)
        classes.extend(cls.__subclasses__())
    return EXIT_REFUSED if causes and all(cause in refusals for cause in causes) else EXIT_FAILED


def guard(args: argparse.Namespace, out=None) -> int:
    """GitLab CI's release-branch guard: fail when the release branch carries commits master lacks."""
    out = out or sys.stdout
    from pc_release.policy.promotion import guard_verdict
    from pc_release.resources.git import GitClone

    settings = _settings()
    clone = GitClone(
        Path(args.repo or settings.repo_path),
        settings.remote,
        settings.master_branch,
        settings.release_branch,
    )
    release_only = clone.guard_commits(args.ref or os.environ.get("CI_COMMIT_SHA") or None)
    verdict = guard_verdict(release_only, settings.allow_release_branch_divergence, settings.release_branch)
    for commit in release_only:
        print(f"  {commit.sha} {commit.author}: {commit.subject}", file=out)
    if not verdict.ok:
        print(f"pc-release guard: FAILED [{verdict.rule}] {verdict.reason}", file=out)
        return EXIT_REFUSED
    if verdict.warning:
        banner = "!" * 78
        print(f"{banner}\npc-release guard: WARNING [{verdict.rule}] {verdict.reason}\n{banner}", file=out)
        return EXIT_OK
    print(f"pc-release guard: ok: {verdict.reason}", file=out)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pc-release", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    promote = sub.add_parser("promote", help="promote one exact SHA from master (the policy's normal flow)")
    _add_promotion_arguments(promote, dev_test=False)
    dev_test = sub.add_parser("dev-test-deploy", help="the bounded dev-test bypass; never recorded as a release")
    _add_promotion_arguments(dev_test, dev_test=True)
    guard_parser = sub.add_parser("guard", help="release-branch guard for GitLab CI")
    guard_parser.add_argument("--ref", help="commit to judge (default $CI_COMMIT_SHA, else the release branch)")
    guard_parser.add_argument("--repo", help="clone to inspect (default PC_RELEASE_REPO_PATH or .)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "promote":
            return run_promotion("promote_release", args)
        if args.command == "dev-test-deploy":
            if args.source_ref is None:
                args.source_ref = "HEAD"
            return run_promotion("dev_test_deploy", args)
        return guard(args)
    except REFUSALS as err:
        print(f"pc-release: refused: {err}", file=sys.stderr)
        return EXIT_REFUSED
    except PcReleaseError as err:
        print(f"pc-release: failed: {err}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
