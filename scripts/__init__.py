"""Maintenance scripts of the repository (importable by the tests)."""
