"""The release policy as pure functions: records in, verdicts out; no I/O, git, GitLab or Dagster here."""
