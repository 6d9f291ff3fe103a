"""kb flows: the Prefect layer (extract, transform, categorize, index, refresh) and the CLI."""
