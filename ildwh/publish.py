"""Publication: build `analytics.duckdb` beside the old one, then rename it over the old one.

What analysts read is one file, replaced atomically with `os.replace`: a reader that opened the old
file keeps its consistent view; a new reader sees the new one; nobody sees a partial file.
It holds the marts, results and data-quality schemas of the working copy, the run history, and a
per-run snapshot history (`history` schema, last N runs) for run-to-run comparison. It never holds
the raw layer or a direct identifier: publication refuses a file with an identifier-named column.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ildwh import IldwhError

PUBLISHED_SCHEMAS = ("marts", "results", "dq")
# Loader bookkeeping, without identifiers, for data stewards (dbt staging views -> dq schema).
STEWARD_VIEWS = {
    "stg_loader__reconciliation": "load_reconciliation",
    "stg_loader__quarantine": "load_quarantine",
    "stg_loader__drops": "load_drops",
}
SNAPSHOT_TABLES = (("marts", "cohort"), ("marts", "baseline"), ("marts", "survival"))
FORBIDDEN_COLUMNS = {"mrn", "name", "id_number", "phone", "patient_name", "raw_record"}


@dataclass(frozen=True)
class PublishOutcome:
    analytics_db: Path
    tables: int
    bytes: int


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def _tables(con: duckdb.DuckDBPyConnection, catalog: str, schema: str) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_catalog = ? "
        "and table_schema = ? order by table_name",
        [catalog, schema],
    ).fetchall()
    return [r[0] for r in rows]


def build_analytics(
    build_db: Path,
    restricted_db: Path,
    previous: Path | None,
    out: Path,
    run_id: str,
    keep_runs: int = 30,
) -> int:
    """Write a complete analytics database to `out` (a new file). Returns the number of tables."""
    if out.exists():
        out.unlink()
    con = duckdb.connect(str(out))
    n = 0
    try:
        con.execute(f"attach {_sql_str(build_db)} as build (read_only)")
        con.execute(f"attach {_sql_str(restricted_db)} as restricted (read_only)")
        if previous is not None and previous.exists():
            con.execute(f"attach {_sql_str(previous)} as prev (read_only)")
            has_prev = True
        else:
            has_prev = False
        for schema in PUBLISHED_SCHEMAS + ("ops", "history"):
            con.execute(f"create schema if not exists {schema}")
        for schema in PUBLISHED_SCHEMAS:
            for t in _tables(con, "build", schema):
                if (
                    schema == "dq"
                    and t == "results"
                    and has_prev
                    and "results" in _tables(con, "prev", "dq")
                ):
                    # data-quality history: earlier runs from the last publication + this run
                    con.execute(
                        "create table dq.results as select * from prev.dq.results "
                        "where run_id <> ? union all by name select * from build.dq.results",
                        [run_id],
                    )
                else:
                    con.execute(
                        f"create table {schema}.{_q(t)} as select * from build.{schema}.{_q(t)}"
                    )
                n += 1
        for view, target in STEWARD_VIEWS.items():
            if view in _tables(con, "build", "staging"):
                con.execute(f"create table dq.{target} as select * from build.staging.{_q(view)}")
                n += 1
        if "runs" in _tables(con, "restricted", "ops"):
            con.execute("create table ops.runs as select * from restricted.ops.runs")
            n += 1
        n += _snapshots(con, has_prev, run_id, keep_runs)
        # --- run-to-run diff (analysis/diff.py, `ildwh diff`): ops.cohort_changes and
        # ops.figure_changes = earlier runs' rows + this run vs the previous published run
        from analysis.diff import write_change_tables

        write_change_tables(con, run_id, has_prev)
        # --- end run-to-run diff
        _refuse_identifiers(con)
        con.execute("checkpoint")
    finally:
        con.close()
    os.chmod(out, 0o600)
    return n


def _snapshots(con: duckdb.DuckDBPyConnection, has_prev: bool, run_id: str, keep_runs: int) -> int:
    """history.<schema>__<table>: this run's rows plus the previous publication's, last N runs."""
    sources = list(SNAPSHOT_TABLES) + [("results", t) for t in _tables(con, "build", "results")]
    n = 0
    prev_hist = set(_tables(con, "prev", "history")) if has_prev else set()
    for schema, table in sources:
        if table not in _tables(con, "build", schema):
            continue
        h = f"{schema}__{table}"
        cur = f"select ? as snapshot_run_id, * from build.{schema}.{_q(table)}"
        if h in prev_hist:
            con.execute(
                f"create table history.{_q(h)} as {cur} union all by name "
                f"select * from prev.history.{_q(h)} where snapshot_run_id <> ?",
                [run_id, run_id],
            )
        else:
            con.execute(f"create table history.{_q(h)} as {cur}", [run_id])
        n += 1
    # keep the last N published runs
    main = _main_catalog(con)
    if "marts__cohort" in _tables(con, main, "history"):
        runs = [
            r[0]
            for r in con.execute(
                "select distinct snapshot_run_id from history.marts__cohort "
                "order by snapshot_run_id desc"
            ).fetchall()
        ]
        if len(runs) > keep_runs:
            for t in _tables(con, main, "history"):
                con.execute(
                    f"delete from history.{_q(t)} where snapshot_run_id in "
                    "(select unnest(?::varchar[]))",
                    [runs[keep_runs:]],
                )
    return n


def _main_catalog(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("select current_database()").fetchone()[0]


def _refuse_identifiers(con: duckdb.DuckDBPyConnection) -> None:
    bad = con.execute(
        "select table_schema || '.' || table_name || '.' || column_name "
        "from information_schema.columns where table_catalog = current_database() "
        "and lower(column_name) in (select unnest(?::varchar[]))",
        [sorted(FORBIDDEN_COLUMNS)],
    ).fetchall()
    if bad:
        raise IldwhError(
            "refusing to publish: identifier columns would reach analysts: "
            + ", ".join(b[0] for b in bad)
            + " (remove them from the dbt marts/results)"
        )


def _sql_str(p: Path) -> str:
    return "'" + str(p).replace("'", "''") + "'"


def publish_file(tmp: Path, final: Path) -> None:
    """Atomically replace `final` with `tmp` (same folder, so rename is atomic)."""
    fsync_file(tmp)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def publish_tree(staged: Path, final: Path) -> None:
    """Move every file of `staged` into `final`, each by an atomic rename; remove `staged`."""
    for src in sorted(p for p in staged.rglob("*") if p.is_file()):
        dst = final / src.relative_to(staged)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
    shutil.rmtree(staged, ignore_errors=True)


def fsync_file(p: Path) -> None:
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(p: Path) -> None:
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
