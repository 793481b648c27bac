"""Thin Dagster resources over git, GitLab, Kubernetes and subprocesses; they return pc_release.models."""
