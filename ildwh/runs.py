"""Run history (`ops` schema in the restricted warehouse): one row per refresh, whatever its fate.

The restricted warehouse keeps the authoritative history; each publication copies it into
`analytics.duckdb` (`ops.runs`) so analysts can query it and the report footer can show it.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path

import duckdb

RUNS_DDL = """
create schema if not exists ops;
create table if not exists ops.runs (
    run_id varchar primary key,
    started_at timestamp,
    finished_at timestamp,
    status varchar,            -- running | published | nothing_new | failed | abandoned
    failed_stage varchar,
    failure_reason varchar,
    drops_loaded varchar,      -- comma-separated drop ids loaded by this run
    data_freshness varchar,    -- latest drop id in the warehouse this run built from
    rows_in bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    dq_errors integer,
    dq_warnings integer,
    stage_seconds varchar      -- JSON object: stage -> seconds
);
"""


def new_run_id() -> str:
    now = datetime.now(UTC)
    return now.strftime("r%Y%m%dT%H%M%SZ-") + secrets.token_hex(2)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _connect(db: Path) -> duckdb.DuckDBPyConnection:
    db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db))
    con.execute(RUNS_DDL)
    return con


def start_run(db: Path, run_id: str) -> None:
    """Record a new run; any earlier run still marked running was killed: mark it abandoned."""
    con = _connect(db)
    try:
        con.execute(
            "update ops.runs set status = 'abandoned', finished_at = coalesce(finished_at, ?), "
            "failure_reason = coalesce(failure_reason, 'process ended without recording an outcome "
            "(killed?); its working copy was discarded') where status = 'running'",
            [_utcnow()],
        )
        con.execute(
            "insert into ops.runs (run_id, started_at, status) values (?, ?, 'running')",
            [run_id, _utcnow()],
        )
    finally:
        con.close()


def finish_run(
    db: Path,
    run_id: str,
    status: str,
    *,
    failed_stage: str | None = None,
    failure_reason: str | None = None,
    drops_loaded: list[str] | None = None,
    data_freshness: str | None = None,
    rows_in: int | None = None,
    rows_loaded: int | None = None,
    rows_quarantined: int | None = None,
    dq_errors: int | None = None,
    dq_warnings: int | None = None,
    stage_seconds: dict[str, float] | None = None,
) -> None:
    con = _connect(db)
    try:
        con.execute(
            """update ops.runs set finished_at = ?, status = ?, failed_stage = ?,
               failure_reason = ?, drops_loaded = ?, data_freshness = ?, rows_in = ?,
               rows_loaded = ?, rows_quarantined = ?, dq_errors = ?, dq_warnings = ?,
               stage_seconds = ? where run_id = ?""",
            [
                _utcnow(),
                status,
                failed_stage,
                (failure_reason or "")[:2000] or None,
                ",".join(drops_loaded or []) or None,
                data_freshness,
                rows_in,
                rows_loaded,
                rows_quarantined,
                dq_errors,
                dq_warnings,
                json.dumps({k: round(v, 2) for k, v in (stage_seconds or {}).items()}),
                run_id,
            ],
        )
    finally:
        con.close()


def history(db: Path, limit: int = 20) -> list[dict]:
    if not Path(db).exists():
        return []
    con = duckdb.connect(str(db), read_only=True)
    try:
        try:
            cur = con.execute("select * from ops.runs order by started_at desc limit ?", [limit])
        except duckdb.CatalogException:
            return []
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()
