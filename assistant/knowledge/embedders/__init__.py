"""Embedders behind one Protocol (base.py); factory.py alone chooses and builds one."""
