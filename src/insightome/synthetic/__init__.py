"""Judging a synthetic cohort: fidelity, utility and privacy (issue 20)."""
