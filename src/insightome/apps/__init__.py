"""Applications built on insightome."""
