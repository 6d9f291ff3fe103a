"""Learning phase: answer labels from resolved tickets; the nightly re-fit (tuning.py)."""
