"""Promotion of one exact SHA: source commit, master CI gate, release branch, candidate env, pipeline."""
