"""Release readiness: what the candidate SHA would break in the release pipeline, found before the push."""
