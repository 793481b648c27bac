"""Local preflight: the policy's advisory signal between master CI and the release branch."""
