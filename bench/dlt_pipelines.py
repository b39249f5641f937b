"""The same loads as ``meltano run tap-pocket target-duckdb``, written as a dlt user would.

    python bench/dlt_pipelines.py export POCKET_ZIP DATABASE.duckdb
    python bench/dlt_pipelines.py api API_URL CONSUMER_KEY ACCESS_TOKEN PAGE_SIZE DATABASE.duckdb

Run by bench/end_to_end.py (dependency group ``bench``: dlt[duckdb]); never imported by the
tap. Each pipeline is what dlt's documentation shows for its source, with the choices a
competent dlt user makes: the export's CSV parts read by DuckDB (``read_csv_duckdb``) and
merged on ``url`` (the export has no other key); the v3 API read by the ``rest_api``
source, POST /v3/get with ``count``/``offset`` in the JSON body, items merged on
``item_id`` with their tags, authors, images and videos as child tables.
"""

from __future__ import annotations

import sys
import tempfile
import typing as t
import zipfile
from pathlib import Path

import dlt
from dlt.sources.filesystem import filesystem, read_csv_duckdb
from dlt.sources.rest_api import rest_api_source


def load_export(pocket_zip: Path, database: Path) -> t.Any:
    """pocket.zip -> table items (one row per url), merged."""
    with tempfile.TemporaryDirectory() as unzipped:
        zipfile.ZipFile(pocket_zip).extractall(unzipped)
        files = filesystem(bucket_url=Path(unzipped).as_uri(), file_glob="**/part_*.csv")
        items = (files | read_csv_duckdb(use_pyarrow=True)).with_name("items")
        items.apply_hints(write_disposition="merge", primary_key="url")
        pipeline = dlt.pipeline(
            pipeline_name="pocket_export",
            destination=dlt.destinations.duckdb(str(database)),
            dataset_name="pocket",
            pipelines_dir=str(database.parent / "dlt-pipelines"),
        )
        return pipeline.run(items, loader_file_format="parquet")


def _item_rows(page_list: t.Any) -> t.Iterator[dict[str, t.Any]]:
    """Rows of one page's ``list``, with nested objects made lists.

    Pocket's ``list`` is an object keyed by item id (``[]`` when empty); its nested objects
    keyed by id (tags, authors, images, videos) become lists, so dlt makes child tables of
    them instead of one column per tag.
    """
    entries = page_list.values() if isinstance(page_list, dict) else page_list
    for entry in entries:
        row = dict(entry)
        for nested in ("tags", "authors", "images", "videos"):
            if isinstance(row.get(nested), dict):
                row[nested] = list(row[nested].values())
        yield row


def load_api(
    api_url: str, consumer_key: str, access_token: str, page_size: int, database: Path
) -> t.Any:
    """POST /v3/get page by page -> table items (merged on item_id) and child tables."""
    source = rest_api_source(
        {
            "client": {"base_url": api_url.rstrip("/") + "/"},
            "resources": [
                {
                    "name": "items",
                    "write_disposition": "merge",
                    "primary_key": "item_id",
                    "endpoint": {
                        "path": "v3/get",
                        "method": "POST",
                        "json": {
                            "consumer_key": consumer_key,
                            "access_token": access_token,
                            "state": "all",
                            "detailType": "complete",
                            "sort": "oldest",
                        },
                        "data_selector": "list",
                        "paginator": {
                            "type": "offset",
                            "limit": page_size,
                            "offset_body_path": "offset",
                            "limit_body_path": "count",
                            "total_path": None,
                            "stop_after_empty_page": True,
                        },
                    },
                    "processing_steps": [{"yield_map": _item_rows}],
                }
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="pocket_api",
        destination=dlt.destinations.duckdb(str(database)),
        dataset_name="pocket",
        pipelines_dir=str(database.parent / "dlt-pipelines"),
    )
    return pipeline.run(source, loader_file_format="jsonl")


def main(argv: list[str]) -> int:
    """Run one pipeline; print dlt's load summary to stderr."""
    if argv[:1] == ["export"]:
        info = load_export(Path(argv[1]), Path(argv[2]))
    elif argv[:1] == ["api"]:
        info = load_api(argv[1], argv[2], argv[3], int(argv[4]), Path(argv[5]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(info, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
