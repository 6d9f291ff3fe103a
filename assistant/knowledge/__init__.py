"""Knowledge by phase: index/ builds it, embedders/ turn text into vectors, search/ queries it,
evaluation/ measures and fits it, learning/ improves it from resolved tickets.

Imports run one way: text <- embedders <- index <- search <- evaluation <- learning
(tests/test_layering.py keeps it so).
"""
