"""The ``pages`` stream: each saved link fetched, its metadata and main text extracted.

One job per module: :mod:`.safety` (which addresses may be fetched), :mod:`.fetch` (the
HTTP client: limits, redirects, retries), :mod:`.robots`, :mod:`.extract` (trafilatura),
:mod:`.wayback` (archived copies), :mod:`.cache` (SQLite), :mod:`.batches` (how the
items streams hand links to the child stream) and :mod:`.stream`. httpx and trafilatura
are imported only when the stream syncs.
"""
