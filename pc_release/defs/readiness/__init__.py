"""Release readiness: the policy's common release blockers, checked on the candidate SHA before the push."""
