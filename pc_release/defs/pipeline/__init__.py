"""The release pipeline, watched stage by stage: stage assets, runtime digests, checks and the release record."""
