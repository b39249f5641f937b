"""Print the result of one SQL statement (text or a .sql file) run on a DuckDB file.

Run by ``scripts/query`` with the target-duckdb plugin's Python and DuckDB.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent


def default_database() -> str:
    """Your own data (./pocket.duckdb) once loaded, else the demo's (./demo.duckdb)."""
    own = ROOT / "pocket.duckdb"
    return str(own if own.exists() else ROOT / "demo.duckdb")


def main(argv: list[str]) -> int:
    """Run the statement of ``argv`` on the database and print the result."""
    parser = argparse.ArgumentParser(prog="scripts/query", description=__doc__)
    parser.add_argument("sql", help="a SQL statement, or the path of a .sql file")
    parser.add_argument(
        "--db",
        default=os.environ.get("TARGET_DUCKDB_PATH") or default_database(),
        help="the DuckDB file (default: $TARGET_DUCKDB_PATH, ./pocket.duckdb, ./demo.duckdb)",
    )
    args = parser.parse_args(argv)
    sql = args.sql
    if sql.strip().lower().endswith(".sql") and Path(sql).is_file():
        sql = Path(sql).read_text(encoding="utf-8")
    if not Path(args.db).is_file():
        print(f"query: {args.db} does not exist yet: run scripts/quickstart", file=sys.stderr)
        return 1
    with duckdb.connect(args.db, read_only=True) as connection:
        relation = connection.sql(sql)
        if relation is not None:
            relation.show(max_width=160, max_rows=100)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
