"""The sandbox GitLab: a GitLab REST v4-compatible server over a local bare repository, so pc-release runs
offline unchanged.

python-gitlab talks to it over real HTTP. It serves the project, branch, commit, pipeline and job endpoints
pc-release uses, creates jobs from the `.gitlab-ci.yml` at the pipeline SHA, moves them through stages the
way GitLab's pipeline processing does, and (with `run_jobs=True`) runs them with `LocalPipelineRunner`.
Tests drive job statuses directly and inject faults (5xx, 429, slow answers) to exercise client retries.

Modules by job: `server` (the SandboxGitLab and its Python control API), `pipeline_state` (GitLab's status
processing), `views` (the JSON entities), `routes` (the one table mapping paths to handlers), `http` (requests,
responses, pagination), `persistence`, `faults`, `origin` (the bare repository), `access` (tokens, protected
branches).

Control API for other processes (same token), under `/-/sandbox/`:
  POST pipelines      {"ref", "sha"?, "variables"?: {KEY: VALUE}, "source"?}  -> pipeline JSON
  POST jobs/status    {"pipeline_id", "job_name", "status"}
  POST pipelines/status {"pipeline_id", "status"}
  POST faults         {"rate", "kinds", "seed", "slow_seconds", "retry_after"}
  POST faults/next    {"n", "status", "retry_after"}
  GET  requests       -> [[method, path], ...] ;  POST requests/reset
  POST master-ci      {"slow_seconds"?, "fail"?}: hold or fail the jobs of master pipelines (with run_jobs)

Pipeline and job pages (`web_url`) are served by `pages` to a signed-in browser session.
"""
