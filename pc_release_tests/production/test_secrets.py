"""The GitLab token never surfaces: not in the event log, metadata, records, exception messages, CLI output or
any file, even when GitLab (or a proxy in front of it) echoes the token back in its error answers.

The hostile-input corpus, the fault and SIGKILL tests and the concurrency tests each scan what their own runs
left; this test drives the failures those cannot: answers that carry the token itself.
"""

import dagster as dg
import pytest

from pc_release import cli
from pc_release.definitions import build_definitions
from pc_release.reporting import summarize_run
from pc_release.sandbox.gitlab_server import SandboxGitLab, connect_clone
from pc_release.settings import Settings
from pc_release_tests.conftest import GIT_TOKEN_VARIABLE, TOKEN
from pc_release_tests.production.gitlab_proxy import GitLabProxy
from pc_release_tests.production.leaks import find_leaks
from pc_release_tests.production.observe import green_master
from pc_release_tests.promotion_harness import PROJECT


def _echo(status: int, only_method: str | None = None, only_path: str = "/projects"):
    """A GitLab front that answers `status` with the caller's own token in the message."""

    def answer(method: str, path: str, headers: dict):
        if only_path in path and (only_method is None or method == only_method):
            token = headers.get("PRIVATE-TOKEN") or headers.get("Private-Token") or ""
            return status, {"message": f"{status} refused for PRIVATE-TOKEN={token}"}
        return None

    return answer


ECHOES = {
    "read-refused-422": (_echo(422), "gitlab"),
    "read-forbidden-403": (_echo(403), "gitlab-permission"),
    "create-refused-400": (_echo(400, "POST", "/pipeline"), "gitlab"),
    "create-bad-gateway-502": (_echo(502, "POST", "/pipeline"), "gitlab-transient"),
}


@pytest.mark.parametrize("echo", list(ECHOES), ids=list(ECHOES))
def test_a_gitlab_echoing_the_token_never_makes_it_leak(world, tmp_path, monkeypatch, capsys, echo):
    answer, rule = ECHOES[echo]
    home, dist = tmp_path / "dagster-home", tmp_path / "dist"
    home.mkdir()
    with SandboxGitLab(origin=world.origin, token=TOKEN, state_dir=tmp_path / "sandbox") as server:
        connect_clone(world.clone, "origin", server.repository_url, GIT_TOKEN_VARIABLE)
        sha = world.commit("change")
        world.push("master")
        green_master(server, [sha])
        with GitLabProxy(server.url, answer) as proxy:
            settings = Settings(repo_path=world.clone, gitlab_url=proxy.url, gitlab_project=PROJECT, dist_dir=dist)
            with dg.DagsterInstance.from_config(str(home)) as instance:
                result = (
                    build_definitions(settings)
                    .resolve_job_def("promote_release")
                    .execute_in_process(
                        run_config={"ops": {"source_commit": {"config": {"source_ref": sha}}}},
                        instance=instance,
                        raise_on_error=False,
                    )
                )
                summary = summarize_run(instance, result.run_id)
            for name, value in {
                "DAGSTER_HOME": str(home),
                "PC_RELEASE_REPO_PATH": str(world.clone),
                "PC_RELEASE_DIST_DIR": str(dist),
                "PC_RELEASE_GITLAB_URL": proxy.url,
                "PC_RELEASE_GITLAB_PROJECT": PROJECT,
            }.items():
                monkeypatch.setenv(name, value)
            exit_code = cli.main(["promote", sha])
        output = capsys.readouterr()

    assert not result.success
    assert rule in summary.failed_rules, summary.text
    assert exit_code == 1
    assert "[REDACTED]" in summary.text  # the echo reached pc-release, and was redacted on the way in
    with dg.DagsterInstance.from_config(str(home)) as instance:
        leaks = find_leaks(
            [TOKEN],
            instances=[instance],
            texts=[("summary", summary.text), ("cli stdout", output.out), ("cli stderr", output.err)],
            dirs=[tmp_path],
        )
    assert leaks == []
