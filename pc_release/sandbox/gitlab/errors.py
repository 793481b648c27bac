"""What the sandbox GitLab raises through its Python API."""


class PipelineCreationError(ValueError):
    """GitLab refused to create the pipeline (unknown ref, CI config error, no jobs)."""


class SandboxLookupError(LookupError):
    """An unknown pipeline, job or ref was named through the Python API."""
