"""The embedded default GitLab: a REST v4-compatible server over a local origin, and a local job runner."""
