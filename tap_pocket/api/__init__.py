"""The Pocket v3 API path: pages of ``POST /v3/get`` turned into rows."""
