"""kb assistant: the product's brain (database, retrieval, categorization, the Pyrus bot).

Importable without Prefect; `flows` builds on it, never the other way round.
"""
