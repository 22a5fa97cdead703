"""All DuckDB I/O of the analysis library: read the marts, run a read-only query, write results."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd

from analysis.errors import AnalysisInputError
from ildwh.config import PUBLISHED_RESULTS

MARTS = ("baseline", "survival", "cohort", "attrition")
RESULT_COLUMNS = (
    "analysis",
    "subgroup",
    "item",
    "statistic",
    "ours",
    "published",
    "difference",
    "method",
    "n",
    "is_count",
    "run_id",
    "data_freshness",
)
DEFAULT_PUBLISHED = PUBLISHED_RESULTS


def _connect(db_path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    db_path = Path(db_path)
    if not db_path.exists():
        raise AnalysisInputError(
            f"{db_path}: no such database file; build it first (ildwh build) or pass --db"
        )
    try:
        return duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.Error as exc:
        raise AnalysisInputError(f"{db_path}: cannot open ({str(exc).splitlines()[0]})") from exc


def read_marts(db_path: Path) -> dict[str, pd.DataFrame]:
    """The four marts the analysis reads, as DataFrames keyed by table name (read-only)."""
    con = _connect(db_path, read_only=True)
    try:
        out = {}
        for name in MARTS:
            try:
                out[name] = con.execute(f"select * from marts.{name}").df()
            except duckdb.CatalogException as exc:
                raise AnalysisInputError(
                    f"{db_path}: table marts.{name} is missing; run the dbt build first"
                ) from exc
        return out
    finally:
        con.close()


def check_select_only(sql: str) -> str:
    """Return `sql` if it is exactly one SELECT (or WITH ... SELECT) statement, else raise."""
    if not sql or not sql.strip():
        raise AnalysisInputError("--query: empty query; give one SELECT statement")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise AnalysisInputError(f"--query: cannot parse ({str(exc).splitlines()[0]})") from exc
    if len(statements) != 1:
        raise AnalysisInputError(
            f"--query: expected exactly one SELECT statement, got {len(statements)}"
        )
    if statements[0].type != duckdb.StatementType.SELECT:
        raise AnalysisInputError(
            f"--query: only a SELECT (or WITH ... SELECT) query is allowed, got "
            f"{statements[0].type.name}"
        )
    return sql


def run_query(db_path: Path, sql: str) -> pd.DataFrame:
    """Run one SELECT on a read-only connection; raise when it writes, fails or returns no row."""
    check_select_only(sql)
    con = _connect(db_path, read_only=True)
    try:
        try:
            df = con.execute(sql).df()
        except duckdb.Error as exc:
            raise AnalysisInputError(f"--query: {str(exc).splitlines()[0]}") from exc
    finally:
        con.close()
    if df.empty:
        raise AnalysisInputError("--query: the query returned no rows; check its WHERE clause")
    return df


def write_results(db_path: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Replace `results.<name>` for each frame, in one transaction on the same database file."""
    con = _connect(db_path, read_only=False)
    try:
        con.execute("begin transaction")
        con.execute("create schema if not exists results")
        for name, frame in tables.items():
            frame = frame.loc[:, list(RESULT_COLUMNS)]
            con.register("_frame", frame)
            con.execute(
                f"create or replace table results.{name} as select analysis::varchar as analysis,"
                " subgroup::varchar as subgroup, item::varchar as item, statistic::varchar as "
                "statistic, ours::double as ours, published::double as published, "
                "difference::double as difference, method::varchar as method, n::bigint as n, "
                "is_count::boolean as is_count, run_id::varchar as run_id, "
                "data_freshness::varchar as data_freshness from _frame"
            )
            con.unregister("_frame")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.close()


def read_results(db_path: Path) -> dict[str, pd.DataFrame]:
    """Every `results.*` table of a database (read-only), keyed by table name."""
    con = _connect(db_path, read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'results' "
                "order by table_name"
            ).fetchall()
        ]
        if not names:
            raise AnalysisInputError(f"{db_path}: no results schema; run `ildwh analyse` first")
        return {n: con.execute(f"select * from results.{n}").df() for n in names}
    finally:
        con.close()


def load_published(path: Path | None = None) -> dict:
    """The paper's figures (`published_results.json`)."""
    path = Path(path) if path else DEFAULT_PUBLISHED
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AnalysisInputError(
            f"{path}: published results file not found; pass published_path"
        ) from exc
    except json.JSONDecodeError as exc:
        raise AnalysisInputError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from exc


def latest_drop_id(db_path: Path) -> str | None:
    """The latest loaded drop id visible from `db_path` (raw.drops or restricted.raw.drops), if any."""
    con = _connect(db_path, read_only=True)
    try:
        for table in ("ops.drops", "raw.drops"):
            try:
                row = con.execute(
                    f"select drop_id from {table} order by loaded_at desc, drop_id desc limit 1"
                ).fetchone()
            except duckdb.Error:
                continue
            if row:
                return str(row[0])
        return None
    finally:
        con.close()
