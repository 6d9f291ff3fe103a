"""Search phase: the retrieval configuration (config.py) and the hybrid retriever (retrieval.py)."""
