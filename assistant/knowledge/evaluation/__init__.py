"""Evaluation phase: BEIR runs, metrics, the fitting module, calibration, degraded queries."""
