"""The tap's settings in one place: their schema, their defaults, and the checks across them.

The schema is what ``--about`` lists and the SDK validates; the checks are those a JSON
schema cannot express.

Code that reads a setting uses :func:`setting`, which falls back to the schema's default,
instead of repeating the default: ``setting(self.config, "page_size")``.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import ipaddress
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import (
    BATCH_CONFIG,
    EMIT_ACTIVATE_VERSION_CONFIG,
    STREAM_MAPS_CONFIG,
)
from singer_sdk.mapper import (
    MAPPER_ALIAS_OPTION,
    MAPPER_ELSE_OPTION,
    MAPPER_KEY_PROPERTIES_OPTION,
    MAPPER_SOURCE_OPTION,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_API_URL = "https://getpocket.com"

#: A non-negative decimal number written as text: "0.5", "2", ".25".
DECIMAL_TEXT = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)$"


def fraction_type() -> th.CustomType:
    """A non-negative number that may have a fraction, as a JSON number or as its text.

    Meltano has no setting kind that carries a fraction safely: its ``decimal`` kind turns
    a value from the environment, ``.env`` or ``meltano config set`` into a Python Decimal
    that it then cannot write into the tap's config file ("Object of type Decimal is not
    JSON serializable"). So these settings are ``string`` settings in Meltano, and text is
    what the tap gets from it, and from the SDK's own ``--config ENV`` too; whole numbers
    are ``integer`` settings instead. Code reads them with ``float(setting(...))``.
    """
    return th.CustomType({"type": ["string", "number"], "minimum": 0, "pattern": DECIMAL_TEXT})


SETTINGS_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "consumer_key",
        th.StringType,
        secret=True,
        title="Consumer Key",
        description="Pocket API consumer key (API mode). Sent only in request bodies.",
    ),
    th.Property(
        "access_token",
        th.StringType,
        secret=True,
        title="Access Token",
        description="Pocket user access token (API mode); `tap-pocket auth` obtains one.",
    ),
    th.Property(
        "api_url",
        th.StringType,
        default=DEFAULT_API_URL,
        title="API URL",
        description=(
            "Base URL of the Pocket v3 API or a Pocket-compatible server. Must be https, "
            "except for loopback hosts (127.0.0.1, ::1, localhost)."
        ),
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        title="Start Date",
        description=(
            "Only items changed at or after this moment (API mode, first run; later runs "
            "continue from the bookmark). Unset: the whole library."
        ),
    ),
    th.Property(
        "state",
        th.StringType(allowed_values=["unread", "archive", "all"]),
        default="all",
        title="State Filter",
        description="Which items to read: unread, archive (archived) or all.",
    ),
    th.Property(
        "favorite",
        th.BooleanType,
        title="Favorite Filter",
        description="`true`: only favorites; `false`: only non-favorites; unset: no filter.",
    ),
    th.Property(
        "tag",
        th.StringType(min_length=1),
        title="Tag Filter",
        description="Only items with this tag; `_untagged_` for items without tags.",
    ),
    th.Property(
        "content_type",
        th.StringType(allowed_values=["article", "video", "image"]),
        title="Content Type Filter",
        description="Only articles, videos or images.",
    ),
    th.Property(
        "search",
        th.StringType(min_length=1),
        title="Search",
        description="Only items whose title or URL contains this text.",
    ),
    th.Property(
        "domain",
        th.StringType(min_length=1),
        title="Domain Filter",
        description=(
            "Only items from this domain. Pocket's server applied it together with "
            "`search` only, and ignored it otherwise; the tap sends it as Pocket expects."
        ),
    ),
    th.Property(
        "detail_type",
        th.StringType(allowed_values=["simple", "complete"]),
        default="complete",
        title="Detail Type",
        description="`complete` (tags, authors, images, videos, domain metadata) or `simple`.",
    ),
    th.Property(
        "page_size",
        th.IntegerType(minimum=1, maximum=5000),
        default=1000,
        title="Page Size",
        description=(
            "Items per /v3/get request (`count`), 1-5000. Pocket documented 30, but its "
            "2024-2025 server accepted up to 5000, and a server that sends fewer is still "
            "read to the end. 1000 reads 10000 items in 11 calls (Pocket allowed 320 calls "
            "per user per hour, so 30 a page stops at 9600 items an hour)."
        ),
    ),
    th.Property(
        "request_timeout",
        th.IntegerType(minimum=1),
        default=60,
        title="Request Timeout",
        description=(
            "Seconds one API request may take in all (connecting, headers and body); a "
            "server still sending then is cut off and the request retried (`max_retries`)."
        ),
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0, maximum=20),
        default=5,
        title="Max Retries",
        description=(
            "Retries of one request after a transient failure (HTTP 5xx, connection "
            "reset, timeout, truncated or non-JSON body), with exponential backoff."
        ),
    ),
    th.Property(
        "backoff_factor",
        fraction_type(),
        default=1.0,
        title="Backoff Factor",
        description=(
            "Seconds of the first retry wait, fractions allowed (0.5); each retry doubles "
            "it (with full jitter)."
        ),
    ),
    th.Property(
        "backoff_max",
        th.IntegerType(minimum=0),
        default=60,
        title="Backoff Max",
        description="Longest wait between two retries, in seconds.",
    ),
    th.Property(
        "max_wait",
        th.IntegerType(minimum=0),
        default=3600,
        title="Max Rate-Limit Wait",
        description=(
            "Longest wait, in seconds, for Pocket's rate limit to reset (Pocket allowed "
            "320 calls per user per hour). Past it the tap stops with a state that lets "
            "the next run continue."
        ),
    ),
    th.Property(
        "export_path",
        th.StringType(min_length=1),
        title="Export Path",
        description=(
            "Read a Pocket export instead of the API: `pocket.zip`, an unzipped export "
            "folder, a `part_*.csv`, `ril_export.html` or a saved `/v3/get` JSON response."
        ),
    ),
    th.Property(
        "skip_bad_rows",
        th.BooleanType,
        default=False,
        title="Skip Bad Rows",
        description=(
            "Skip malformed rows instead of stopping at the first one: export rows (each "
            "reported with file, line and reason), and API list entries that are not an "
            "item (no usable item_id; reported with the page offset). All counted at the end."
        ),
    ),
    th.Property(
        "fetch_concurrency",
        th.IntegerType(minimum=1, maximum=256),
        default=16,
        title="Fetch Concurrency",
        description=(
            "Pages stream: links fetched at once (at most 2 at a time from any one host)."
        ),
    ),
    th.Property(
        "fetch_timeout_seconds",
        th.IntegerType(minimum=1),
        default=20,
        title="Fetch Timeout",
        description=(
            "Pages stream: seconds of its own work one link may take in all (`robots.txt`, "
            "DNS, connect, redirects, body, retries); waiting for a free slot or for a "
            "site's Retry-After does not count. Past it the row has error `timeout`."
        ),
    ),
    th.Property(
        "fetch_max_bytes",
        th.IntegerType(minimum=1024),
        default=5_000_000,
        title="Fetch Max Bytes",
        description=(
            "Pages stream: bytes read of one answer, after its content coding (gzip, br, "
            "zstd) is decoded; the rest is not read and the row has error `too_large` "
            "(with what the part read says)."
        ),
    ),
    th.Property(
        "fetch_extract_timeout_seconds",
        th.IntegerType(minimum=1),
        default=5,
        title="Extraction Time Limit",
        description=(
            "Pages stream: seconds a worker may spend extracting one page's text; past it "
            "the row keeps the page's metadata (title, description, language) and has "
            "error `extraction_limit`, "
            "and that worker is replaced."
        ),
    ),
    th.Property(
        "fetch_extract_memory_mb",
        th.IntegerType(minimum=32),
        default=128,
        title="Extraction Memory Limit",
        description=(
            "Pages stream: MiB of memory an extraction worker may take beyond what it holds "
            "at rest (enforced on Linux); a page past it ends as `extraction_limit`, like "
            "one past the time limit."
        ),
    ),
    th.Property(
        "fetch_respect_robots",
        th.BooleanType,
        default=True,
        title="Respect robots.txt",
        description="Pages stream: do not fetch what a site's `robots.txt` disallows (`robots`).",
    ),
    th.Property(
        "fetch_private_addresses",
        th.BooleanType,
        default=False,
        title="Fetch Private Addresses",
        description=(
            "Pages stream: also fetch links that resolve to loopback, private, link-local, "
            "multicast or reserved addresses (refused by default: `private_address`)."
        ),
    ),
    th.Property(
        "fetch_cache_path",
        th.StringType(min_length=1),
        title="Fetch Cache Path",
        description=(
            "Pages stream: the SQLite file of fetched pages (created 0600). Default: "
            "`pages.sqlite3` in the user's cache directory for tap-pocket. A file that is "
            "not a tap-pocket cache is left untouched and the run goes on without a cache."
        ),
    ),
    th.Property(
        "fetch_refresh_days",
        th.IntegerType(minimum=0),
        default=30,
        title="Fetch Refresh Days",
        description=(
            "Pages stream: a definite answer (a page, a 404, a `robots.txt` refusal) fetched "
            "within this many days is emitted from the cache without a request; 0 fetches "
            "every link again. Passing failures (a timeout, a 5xx) are retried sooner."
        ),
    ),
    th.Property(
        "wayback_api_url",
        th.StringType,
        default="https://archive.org/wayback/available",
        title="Wayback Availability API URL",
        description=(
            "Pages stream: the Internet Archive availability API asked for a dead link's "
            "closest snapshot (it receives the link, without secret-looking parameters, "
            "and the date it was saved; never a private or non-http link); empty disables "
            "the lookups."
        ),
    ),
).to_dict()
# The SDK's own setting for the activate-version capability the tap advertises: the SDK
# reads it but, unlike its stream-map, flattening and batch settings, does not list it in
# --about, so Meltano (meltano.yml, the Hub) would not know it. Taken as the SDK defines it,
# its label in Title Case as every other label (the Hub's style, and the SDK's elsewhere).
_ACTIVATE_VERSION = copy.deepcopy(EMIT_ACTIVATE_VERSION_CONFIG["properties"])
_ACTIVATE_VERSION["emit_activate_version_messages"]["title"] = "Emit `ACTIVATE_VERSION` Messages"
SETTINGS_SCHEMA["properties"].update(_ACTIVATE_VERSION)

#: The optional parts of the install (pyproject's [project.optional-dependencies]): each
#: extra and the module whose presence shows it is installed.
EXTRA_MODULES: Mapping[str, str] = MappingProxyType({"parquet": "pyarrow", "faker": "faker"})


def install_command(extra: str) -> str:
    """The command that installs the tap with ``extra``."""
    return f"pip install 'tap-pocket[{extra}]'"


def _the_extra(extra: str) -> str:
    return f"the {extra} extra (`{install_command(extra)}`)"


# The SDK's settings whose use needs an extra, as the SDK defines them (the SDK then adds
# them as they are here), each description saying which extra: --about, meltano.yml, the
# Hub and README show it. The default install has neither extra (pyarrow alone is 170 MB).
_BATCH = copy.deepcopy(BATCH_CONFIG["properties"]["batch_config"])
_FORMAT = _BATCH["properties"]["encoding"]["properties"]["format"]
_FORMAT["description"] += f" `parquet` needs {_the_extra('parquet')}."
_FAKER = copy.deepcopy(STREAM_MAPS_CONFIG["properties"]["faker_config"])
_FAKER["description"] = (
    "Config for the [`Faker`](https://faker.readthedocs.io/en/master/) instance `fake` used "
    f"within map expressions. Needs {_the_extra('faker')}."
)
for _leaf in _FAKER["properties"].values():
    _leaf["description"] += f"; needs {_the_extra('faker')}"
SETTINGS_SCHEMA["properties"].update({"batch_config": _BATCH, "faker_config": _FAKER})

#: Each setting's default, read from :data:`SETTINGS_SCHEMA` (read-only).
DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        name: prop["default"]
        for name, prop in SETTINGS_SCHEMA["properties"].items()
        if "default" in prop
    }
)

_NAMES = frozenset(SETTINGS_SCHEMA["properties"])


def setting(config: Mapping[str, Any], name: str) -> Any:
    """The configured value of setting ``name``, or its default (None if it has none).

    A null value counts as unset. A name that is not a setting of the tap raises KeyError,
    so that a typo fails instead of silently reading the default.
    """
    if name not in _NAMES:
        raise KeyError(f"{name!r} is not a tap-pocket setting")
    value = config.get(name)
    return DEFAULTS.get(name) if value is None else value


def settings_errors(config: Mapping[str, Any]) -> list[str]:
    """Checks across settings that a JSON schema cannot express, each naming its setting."""
    errors: list[str] = []
    has_key, has_token = bool(config.get("consumer_key")), bool(config.get("access_token"))
    if config.get("export_path"):
        if has_key or has_token:
            errors.append(
                "Set either export_path (read an export) or consumer_key/access_token "
                "(read the API), not both."
            )
    elif not (has_key and has_token):
        missing = [
            name for name, ok in (("consumer_key", has_key), ("access_token", has_token)) if not ok
        ]
        errors.append(
            f"Missing setting(s) {', '.join(missing)}: the API needs consumer_key and "
            "access_token (see `tap-pocket auth`), or set export_path to read an export."
        )
    mapped = [name for name in ("stream_maps", "flattening_enabled") if config.get(name)]
    if config.get("batch_config") and mapped:
        errors.append(
            f"batch_config cannot be combined with {' or '.join(mapped)}: BATCH files are "
            "written without stream maps or flattening (a Meltano SDK limitation). Unset "
            "batch_config to load RECORD messages, or unset " + " and ".join(mapped) + "."
        )
    errors += missing_extra_errors(config)
    start_date = config.get("start_date")
    if start_date is not None and _parse_datetime(str(start_date)) is None:
        errors.append(
            f"start_date {start_date!r} is not an ISO 8601 date-time such as 2024-01-31T00:00:00Z"
        )
    api_url = str(config.get("api_url") or DEFAULT_API_URL)
    url_error = api_url_error(api_url)
    if url_error:
        errors.append(f"api_url {url_error}")
    wayback = config.get("wayback_api_url")
    if wayback and not _is_http_url(str(wayback)):
        errors.append(
            f"wayback_api_url must be an http(s) URL such as "
            f"https://archive.org/wayback/available, or empty, got {wayback!r}"
        )
    return errors


def missing_extra_errors(config: Mapping[str, Any]) -> list[str]:
    """A setting that needs an extra which is not installed, with the command installing it."""
    needed: dict[str, str] = {}
    batch = config.get("batch_config")
    encoding = batch.get("encoding") if isinstance(batch, dict) else None
    if isinstance(encoding, dict) and encoding.get("format") == "parquet":
        needed["parquet"] = "batch_config.encoding.format parquet"
    if config.get("faker_config"):
        needed["faker"] = "faker_config"
    if uses_fake(config.get("stream_maps")):
        needed["faker"] = "stream_maps using `fake`"
    return [
        f"{what} needs the {extra} extra, which is not installed: {install_command(extra)}"
        for extra, what in needed.items()
        if importlib.util.find_spec(EXTRA_MODULES[extra]) is None
    ]


#: The keys of a stream map whose values are names, not expressions.
_NOT_EXPRESSIONS = frozenset(
    {MAPPER_ALIAS_OPTION, MAPPER_ELSE_OPTION, MAPPER_KEY_PROPERTIES_OPTION, MAPPER_SOURCE_OPTION}
)


def uses_fake(stream_maps: Any) -> bool:
    """Whether an expression of ``stream_maps`` names ``fake`` (the SDK's Faker instance)."""
    if not isinstance(stream_maps, dict):
        return False
    expressions = [
        expression
        for stream_map in stream_maps.values()
        if isinstance(stream_map, dict)
        for key, expression in stream_map.items()
        if key not in _NOT_EXPRESSIONS and isinstance(expression, str)
    ]
    for expression in expressions:
        try:
            tree = ast.parse(expression.strip(), mode="eval")
        except (SyntaxError, ValueError):
            continue  # the SDK reports an expression it cannot read
        if any(isinstance(node, ast.Name) and node.id == "fake" for node in ast.walk(tree)):
            return True
    return False


#: The settings marked secret: their values never appear in a message.
SECRET_SETTINGS: tuple[str, ...] = tuple(
    name for name, prop in SETTINGS_SCHEMA["properties"].items() if prop.get("secret")
)

#: Shorter secret texts are not searched for in messages (they would match anything).
SHORTEST_SECRET_TEXT = 4
_JSON_TYPES = ((bool, "boolean"), (int, "number"), (float, "number"), (list, "array"))


def secret_type_errors(config: Mapping[str, Any]) -> list[str]:
    """A secret setting that is not a string, named with its JSON type but not its value."""
    errors = []
    for name in SECRET_SETTINGS:
        value = config.get(name)
        if value is None or isinstance(value, str):
            continue
        kind = next((kind for cls, kind in _JSON_TYPES if isinstance(value, cls)), "object")
        errors.append(
            f"{name} must be a string, got a JSON {kind} (a secret: its value is not shown)"
        )
    return errors


def without_secret_values(errors: list[str], config: Mapping[str, Any]) -> list[str]:
    """``errors`` (the SDK's schema validation messages) with no secret value in them.

    jsonschema messages quote the rejected value (``['at-x'] is not of type 'string' in
    config['access_token']``): each about a secret setting is replaced by one naming the
    setting only, and any other that quotes a secret's text is dropped.
    """
    texts = [
        text
        for name in SECRET_SETTINGS
        for text in _texts(config.get(name))
        if len(text) >= SHORTEST_SECRET_TEXT
    ]
    named = secret_type_errors(config)
    kept = []
    for error in errors:
        about = [name for name in SECRET_SETTINGS if f"config[{name!r}]" in error]
        if about or any(text in error for text in texts):
            for name in about:
                if not any(message.startswith(f"{name} ") for message in named):
                    named.append(f"{name} is not valid (a secret: its value is not shown)")
            continue
        kept.append(error)
    return named + kept


def secret_values(
    config: Mapping[str, Any], schema: Mapping[str, Any] | None = None
) -> list[tuple[str, str]]:
    """(name, text) of every secret in ``config``: each setting the schema marks ``secret``.

    ``schema`` is the settings' JSON schema (default :data:`SETTINGS_SCHEMA`); secrets
    nested in object settings count too. Texts shorter than :data:`SHORTEST_SECRET_TEXT`
    are left out.
    """
    properties = (schema or SETTINGS_SCHEMA).get("properties") or {}
    found: list[tuple[str, str]] = []
    for name, prop in properties.items():
        value = config.get(name)
        if value is None:
            continue
        if prop.get("secret"):
            # Not the keys of a secret object: they name its parts ("token"), they are
            # not secret, and hidden they would hide words of every message.
            texts = _texts(value, keys=False)
            found += [(name, text) for text in texts if len(text) >= SHORTEST_SECRET_TEXT]
        elif isinstance(value, dict) and "properties" in prop:
            found += secret_values(value, prop)
    return found


def _texts(value: Any, *, keys: bool = True) -> list[str]:
    """The strings inside a JSON value (and its objects' keys, with ``keys``), and its own text."""
    if value is None:
        return []
    if isinstance(value, dict):
        inner = [
            text
            for key, item in value.items()
            for text in ([str(key)] if keys else []) + _texts(item, keys=keys)
        ]
    elif isinstance(value, list):
        inner = [text for item in value for text in _texts(item, keys=keys)]
    else:
        inner = []
    return [str(value), *inner]


def api_url_error(api_url: str) -> str | None:
    """Why ``api_url`` is unacceptable, or None: credentials must not cross the network in clear."""
    try:
        parts = urlsplit(api_url)
        host = parts.hostname or ""
    except ValueError:
        return f"is not a valid URL: {api_url!r}"
    if parts.scheme not in {"http", "https"} or not host:
        return f"must be an http(s) URL such as {DEFAULT_API_URL}, got {api_url!r}"
    if parts.query or parts.fragment or parts.username or parts.password:
        return "must not contain credentials, a query or a fragment"
    if parts.scheme == "http" and not _is_loopback(host):
        return (
            f"uses plain http to {host}: credentials would travel unencrypted. Use https; "
            "plain http is allowed only for loopback hosts (127.0.0.1, ::1, localhost)."
        )
    return None


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, the port always shown: where credentials may go."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" if port is None else f"{parts.scheme}://{host}:{port}"


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in {"http", "https"} and bool(parts.hostname)
    except ValueError:
        return False


def _parse_datetime(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
