"""The headless HTTP API (see routes.py)."""
