"""Write a small raw layer (docs/architecture.md "Raw layer") straight into a restricted.duckdb.

Used by the dbt tests instead of the loader, so they exercise dbt alone: every contract column
VARCHAR, then the loader's bookkeeping columns, plus empty quarantine/reconciliation/drops tables.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ildwh.contract import TABLES

META_COLUMNS = (
    ("_extra", "varchar"),
    ("_drop_id", "varchar"),
    ("_drop_kind", "varchar"),
    ("_extracted_at", "timestamp"),
    ("_file", "varchar"),
    ("_row", "bigint"),
    ("_loaded_at", "timestamp"),
)

BOOKKEEPING = {
    "quarantine": "drop_id varchar, table_name varchar, file varchar, line bigint, row bigint, "
    "record_id varchar, reason varchar, detail varchar, raw_record varchar",
    "reconciliation": "drop_id varchar, table_name varchar, file varchar, rows_manifest bigint, "
    "rows_read bigint, rows_loaded bigint, rows_duplicate bigint, rows_quarantined bigint, "
    "balanced boolean",
    "drops": "drop_id varchar, kind varchar, extracted_at timestamp, source_system varchar, "
    "encoding varchar, manifest_sha256 varchar, n_files bigint, rows_manifest bigint, "
    "rows_loaded bigint, rows_quarantined bigint, loaded_at timestamp",
}


def write_raw_layer(
    db_path: Path, rows: dict[str, list[dict]], drop_id: str = "2023-01-15"
) -> None:
    """Create raw.* in `db_path` and insert `rows[table]` (dicts of contract column -> str).

    Missing contract columns are blank; `_drop_id` may be given per row to simulate later drops.
    """
    con = duckdb.connect(str(db_path))
    try:
        con.execute("create schema if not exists raw")
        for table, columns in TABLES.items():
            ddl = ", ".join(
                [f"{c} varchar" for c in columns] + [f"{c} {t}" for c, t in META_COLUMNS]
            )
            con.execute(f"create or replace table raw.{table} ({ddl})")
            for i, row in enumerate(rows.get(table, []), start=1):
                unknown = set(row) - set(columns) - {"_drop_id"}
                if unknown:
                    raise ValueError(f"{table}: unknown columns {sorted(unknown)}")
                values = [row.get(c, "") for c in columns] + [
                    None,
                    row.get("_drop_id", drop_id),
                    "full",
                    "2023-01-15 02:00:00",
                    f"{table}.csv",
                    i,
                    "2023-01-15 03:00:00",
                ]
                marks = ", ".join("?" * len(values))
                con.execute(f"insert into raw.{table} values ({marks})", values)
        for table, ddl in BOOKKEEPING.items():
            con.execute(f"create or replace table raw.{table} ({ddl})")
        con.execute(
            "insert into raw.drops values (?, 'full', '2023-01-15 02:00:00', 'test', 'utf-8', "
            "'0' , 8, 0, 0, 1, '2023-01-15 03:00:00')",
            [drop_id],
        )
        con.execute(
            "insert into raw.quarantine values (?, 'lab_results', 'lab_results.csv', 7, 6, 'L99', "
            "'future_date', 'collected_at 2099-01-01', 'L99,MRN-SECRET-1,...')",
            [drop_id],
        )
    finally:
        con.close()
