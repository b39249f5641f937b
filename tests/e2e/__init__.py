"""End-to-end tests: the real Meltano CLI with real loaders (issue 7)."""
