"""Evaluation: the paper's vertex-space metrics (MVE, LVE, MEE, CE, FDD, Diversity)."""
