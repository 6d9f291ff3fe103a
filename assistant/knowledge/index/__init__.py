"""Index phase: documents -> chunks -> vectors -> `kb.chunks` (store.py owns the SQL)."""
