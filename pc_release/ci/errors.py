"""The one error of the CI configuration reader."""


class CiConfigError(ValueError):
    """The configuration is one GitLab would refuse; the message reads like GitLab's."""
