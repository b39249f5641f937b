"""Just enough of Elasticsearch's HTTP API, on a loopback port, for target-elasticsearch.

No Elasticsearch server can be installed on the test machines, so the end-to-end test
runs the real target (and its real ``elasticsearch`` Python client) against this. It
speaks what that client sends and checks: the ``X-Elastic-Product: Elasticsearch`` header
on every answer (the client refuses servers without it), ``GET /`` cluster info, index
existence (``HEAD /<index>``), creation (``PUT /<index>`` with mappings), field mappings
(``GET /<index>/_mapping/field/<fields>``, ``PUT /<index>/_mapping``), ``_bulk`` NDJSON with
``index``/``create``/``update``/``delete`` actions, and for the test's own checks
``GET /<index>/_doc/<id>`` and ``GET /<index>/_count``.

Documents are kept in memory per index and ``_id``, with a version counter, exactly as
Elasticsearch treats ``index`` actions: the same ``_id`` replaces the document. An action
without ``_id`` gets a fresh random id, as in Elasticsearch, so a test sees when a client
does not upsert by key. Every request is recorded; anything else is answered 400 with an
``unsupported_by_fake`` error and recorded in :attr:`FakeElasticsearch.unsupported`.
"""

from __future__ import annotations

import json
import threading
import typing as t
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from typing_extensions import Self

VERSION = "8.19.3"
CONTENT_TYPE = "application/vnd.elasticsearch+json;compatible-with=8"


@dataclass
class Index:
    name: str
    mappings: dict[str, t.Any] = field(default_factory=dict)
    docs: dict[str, dict[str, t.Any]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)


@dataclass
class BulkOp:
    """One action of a ``_bulk`` request as received."""

    action: str
    index: str
    id: str | None
    source: dict[str, t.Any] | None


@dataclass
class Request:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


class FakeElasticsearch:
    """Serves on ``http://127.0.0.1:<port>`` from construction until :meth:`close`."""

    def __init__(self) -> None:
        self.indices: dict[str, Index] = {}
        self.requests: list[Request] = []
        self.bulk_requests: list[list[BulkOp]] = []
        self.unsupported: list[str] = []
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self.host = "127.0.0.1"
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # What the test reads ---------------------------------------------------------------

    def docs(self, index: str) -> dict[str, dict[str, t.Any]]:
        with self.lock:
            return dict(self.indices[index].docs) if index in self.indices else {}

    def bulk_ops(self, start: int = 0) -> list[BulkOp]:
        """The bulk actions of ``bulk_requests[start:]``, flattened."""
        with self.lock:
            return [op for request in self.bulk_requests[start:] for op in request]

    # Elasticsearch semantics ----------------------------------------------------------

    def handle(  # noqa: PLR0911 (a return per route of the API)
        self, method: str, raw_path: str, body: bytes
    ) -> tuple[int, dict[str, t.Any] | None]:
        path = urlsplit(raw_path).path
        parts = [unquote(p) for p in path.split("/") if p]
        with self.lock:
            if method == "GET" and not parts:
                return 200, self._info()
            if parts and parts[-1] == "_bulk" and method in {"POST", "PUT"}:
                default_index = parts[0] if len(parts) == 2 else None
                return 200, self._bulk(body, default_index)
            if len(parts) == 1 and not parts[0].startswith("_"):
                return self._index_op(method, parts[0], body)
            if len(parts) >= 2 and parts[1] == "_mapping":
                return self._mapping_op(method, parts, body)
            if len(parts) == 3 and parts[1] == "_doc" and method == "GET":
                return self._get_doc(parts[0], parts[2])
            if len(parts) == 2 and parts[1] in {"_count", "_refresh"}:
                index = self.indices.get(parts[0])
                if index is None:
                    return 404, _missing(parts[0])
                if parts[1] == "_count":
                    return 200, {"count": len(index.docs)}
                return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
            self.unsupported.append(f"{method} {raw_path}")
            return 400, _error("unsupported_by_fake", f"{method} {raw_path} is not emulated")

    def _info(self) -> dict[str, t.Any]:
        return {
            "name": "fake-es",
            "cluster_name": "tap-pocket-e2e",
            "cluster_uuid": "ZmFrZS1lbGFzdGljc2VhcmNo",
            "version": {
                "number": VERSION,
                "build_flavor": "default",
                "build_type": "tar",
                "lucene_version": "9.12.0",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0",
            },
            "tagline": "You Know, for Search",
        }

    def _index_op(  # noqa: PLR0911 (a return per method and answer)
        self, method: str, name: str, body: bytes
    ) -> tuple[int, dict[str, t.Any] | None]:
        if method == "HEAD":
            return (200 if name in self.indices else 404), None
        if method == "PUT":
            if name in self.indices:
                return 400, _error(
                    "resource_already_exists_exception", f"index [{name}] already exists"
                )
            request = json.loads(body) if body else {}
            mappings = request.get("mappings") or {}
            self.indices[name] = Index(name, mappings=dict(mappings.get("properties") or {}))
            return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}
        if method == "GET":
            if name not in self.indices:
                return 404, _missing(name)
            index = self.indices[name]
            return 200, {name: {"mappings": {"properties": index.mappings}, "settings": {}}}
        if method == "DELETE":
            if self.indices.pop(name, None) is None:
                return 404, _missing(name)
            return 200, {"acknowledged": True}
        self.unsupported.append(f"{method} /{name}")
        return 400, _error("unsupported_by_fake", f"{method} /{name} is not emulated")

    def _mapping_op(
        self, method: str, parts: list[str], body: bytes
    ) -> tuple[int, dict[str, t.Any] | None]:
        name = parts[0]
        index = self.indices.get(name)
        if index is None:
            return 404, _missing(name)
        if method == "GET" and len(parts) == 4 and parts[2] == "field":
            wanted = parts[3].split(",")
            found = {
                field_name: {
                    "full_name": field_name,
                    "mapping": {field_name.rsplit(".", 1)[-1]: index.mappings[field_name]},
                }
                for field_name in wanted
                if field_name in index.mappings
            }
            return 200, {name: {"mappings": found}}
        if method == "GET" and len(parts) == 2:
            return 200, {name: {"mappings": {"properties": index.mappings}}}
        if method in {"PUT", "POST"} and len(parts) == 2:
            request = json.loads(body) if body else {}
            index.mappings.update(request.get("properties") or {})
            return 200, {"acknowledged": True}
        self.unsupported.append(f"{method} /{'/'.join(parts)}")
        return 400, _error("unsupported_by_fake", f"{method} mapping call is not emulated")

    def _get_doc(self, name: str, doc_id: str) -> tuple[int, dict[str, t.Any]]:
        index = self.indices.get(name)
        if index is None:
            return 404, _missing(name)
        if doc_id not in index.docs:
            return 404, {"_index": name, "_id": doc_id, "found": False}
        return 200, {
            "_index": name,
            "_id": doc_id,
            "_version": index.versions[doc_id],
            "found": True,
            "_source": index.docs[doc_id],
        }

    def _bulk(self, body: bytes, default_index: str | None) -> dict[str, t.Any]:
        lines = [line for line in body.decode("utf-8").split("\n") if line.strip()]
        ops: list[BulkOp] = []
        items: list[dict[str, t.Any]] = []
        position = 0
        while position < len(lines):
            action_line = json.loads(lines[position])
            position += 1
            ((action, meta),) = action_line.items()
            source = None
            if action != "delete":
                source = json.loads(lines[position])
                position += 1
            name = meta.get("_index") or default_index
            doc_id = meta.get("_id")
            ops.append(BulkOp(action, name, None if doc_id is None else str(doc_id), source))
            items.append({action: self._apply(action, name, doc_id, source)})
        self.bulk_requests.append(ops)
        errors = any(not 200 <= item[next(iter(item))]["status"] < 300 for item in items)
        return {"took": 1, "errors": errors, "items": items}

    def _apply(  # noqa: PLR0911 (a return per bulk action and outcome)
        self, action: str, name: str | None, doc_id: t.Any, source: dict[str, t.Any] | None
    ) -> dict[str, t.Any]:
        if not name:
            return {
                "status": 400,
                "error": _error("action_request_validation_exception", "index is missing")["error"],
            }
        index = self.indices.get(name)
        if index is None:  # Elasticsearch creates missing indices on write
            index = self.indices[name] = Index(name)
        key = str(doc_id) if doc_id is not None else uuid.uuid4().hex[:20]
        exists = key in index.docs
        base = {"_index": name, "_id": key}
        if action == "delete":
            if not exists:
                return {**base, "result": "not_found", "status": 404}
            del index.docs[key]
            index.versions[key] += 1
            return {**base, "_version": index.versions[key], "result": "deleted", "status": 200}
        if action == "create" and exists:
            return {**base, "status": 409, "error": {"type": "version_conflict_engine_exception"}}
        if action == "update":
            if not exists:
                return {**base, "status": 404, "error": {"type": "document_missing_exception"}}
            assert source is not None
            index.docs[key] = {**index.docs[key], **(source.get("doc") or {})}
        elif action in {"index", "create"}:
            assert source is not None
            index.docs[key] = source
        else:
            return {**base, "status": 400, "error": {"type": "illegal_argument_exception"}}
        index.versions[key] = index.versions.get(key, 0) + 1
        return {
            **base,
            "_version": index.versions[key],
            "result": "updated" if exists else "created",
            "status": 200 if exists else 201,
        }


def _error(kind: str, reason: str) -> dict[str, t.Any]:
    return {
        "error": {"type": kind, "reason": reason, "root_cause": [{"type": kind, "reason": reason}]},
        "status": 400,
    }


def _missing(name: str) -> dict[str, t.Any]:
    body = _error("index_not_found_exception", f"no such index [{name}]")
    body["status"] = 404
    return body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def _serve(self) -> None:
        fake: FakeElasticsearch = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with fake.lock:
            fake.requests.append(
                Request(
                    self.command, self.path, body, {k.lower(): v for k, v in self.headers.items()}
                )
            )
        status, payload = fake.handle(self.command, self.path, body)
        data = b"" if payload is None else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _serve  # noqa: N815 (http.server's names)

    def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002 (the base's name)
        pass
