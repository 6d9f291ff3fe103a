"""Seeded sample Pyrus / Confluence dataset for demos, emulators and tests.

Run ``python -m sample_data.generate`` to rebuild ``sample_data/dataset/`` byte for byte.
"""
