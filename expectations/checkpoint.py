"""The data-quality gate: run every suite on a warehouse file with Great Expectations, store the
results in ``dq.results`` of that file, build Data Docs and the steward's one-page summary.

``run_checkpoint`` is what the nightly refresh calls; ``run_checkpoint_cli`` is ``ildwh dq``.
All expectations run in DuckDB through GE's SQL datasource (see ``ge_duckdb``): every row of every
table is validated, nothing is loaded into memory.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from expectations.suites import (
    Check,
    Thresholds,
    build_checks,
    existing_columns,
    load_thresholds,
    previous_attrition,
)
from ildwh import IldwhError

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

N_EXAMPLES = 5
RESULTS_DDL = """
create schema if not exists dq;
create table if not exists dq.results (
    run_id varchar, checked_at timestamp, suite varchar, category varchar, severity varchar,
    table_name varchar, column_name varchar, expectation_type varchar, description varchar,
    status varchar, n_rows bigint, n_failed bigint, failed_share double, threshold double,
    examples varchar, check_id varchar, check_name varchar, note varchar
);
"""
RESULT_COLUMNS = (
    "run_id",
    "checked_at",
    "suite",
    "category",
    "severity",
    "table_name",
    "column_name",
    "expectation_type",
    "description",
    "status",
    "n_rows",
    "n_failed",
    "failed_share",
    "threshold",
    "examples",
    "check_id",
    "check_name",
    "note",
)


@dataclass(frozen=True)
class DqOutcome:
    """What one checkpoint run found.

    ``ok`` is False when any ``error`` check failed (publication must stop). ``results`` holds one
    dict per expectation (the ``dq.results`` columns plus ``previous_n_failed`` and
    ``previous_status`` from the last run when history was given). ``counts`` maps
    ``severity -> status -> n``.
    """

    run_id: str
    ok: bool
    results: tuple[dict[str, Any], ...]
    counts: dict[str, dict[str, int]]
    elapsed_s: float
    summary_path: Path
    data_docs_path: Path | None

    @property
    def failed_errors(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["severity"] == "error" and r["status"] == "failed"]


def _expectation(check: Check, mostly: float) -> Any:
    import great_expectations as gx

    common: dict[str, Any] = {"meta": {"check_name": check.name, "check_id": check.check_id}}
    if check.row_condition:
        common.update(row_condition=check.row_condition, condition_parser="great_expectations")
    p = check.params
    if check.kind == "not_null":
        return gx.expectations.ExpectColumnValuesToNotBeNull(
            column=check.column, mostly=mostly, **common
        )
    if check.kind == "in_set":
        return gx.expectations.ExpectColumnValuesToBeInSet(
            column=check.column, mostly=mostly, value_set=list(p["value_set"]), **common
        )
    if check.kind == "not_in_set":
        return gx.expectations.ExpectColumnValuesToNotBeInSet(
            column=check.column, mostly=mostly, value_set=list(p["value_set"]), **common
        )
    if check.kind == "between":
        return gx.expectations.ExpectColumnValuesToBeBetween(
            column=check.column,
            mostly=mostly,
            min_value=p.get("min_value"),
            max_value=p.get("max_value"),
            strict_min=bool(p.get("strict_min", False)),
            strict_max=bool(p.get("strict_max", False)),
            **common,
        )
    if check.kind == "rows":
        return gx.expectations.UnexpectedRowsExpectation(
            unexpected_rows_query=p["failed_sql"].format(table="{batch}"),
            description=check.description,
            meta=common["meta"],
        )
    raise IldwhError(
        f"expectations/suites.py: check '{check.name}' has unknown kind '{check.kind}'"
    )


def _status(n_rows: int, n_failed: int, threshold: float) -> tuple[str, float | None]:
    if n_rows <= 0:
        return "not_applicable", None
    share = n_failed / n_rows
    return ("failed" if share > threshold + 1e-12 else "passed"), share


def _read_history(history_db: Path | None, run_id: str) -> dict[str, dict[str, Any]]:
    """check_name -> its row of the latest earlier run in ``history_db``'s dq.results."""
    if history_db is None or not Path(history_db).exists():
        return {}
    con = duckdb.connect(str(history_db), read_only=True)
    try:
        rows = con.execute(
            "with last as (select run_id from dq.results where run_id <> ? "
            "group by run_id order by max(checked_at) desc limit 1) "
            "select run_id, check_name, status, n_failed, failed_share from dq.results "
            "where run_id in (select run_id from last)",
            [run_id],
        ).fetchall()
    except duckdb.Error:
        return {}
    finally:
        con.close()
    return {
        r[1]: {"run_id": r[0], "status": r[2], "n_failed": r[3], "failed_share": r[4]} for r in rows
    }


def _loader_tables(con: duckdb.DuckDBPyConnection, have: dict[str, set[str]]) -> dict[str, Any]:
    """The loader's quarantine (per reason and table) and reconciliation, for the summary page."""
    out: dict[str, Any] = {"quarantine": None, "reconciliation": None}
    if "staging.stg_loader__quarantine" in have:
        out["quarantine"] = con.execute(
            "select reason, table_name, count(*) as n from staging.stg_loader__quarantine "
            "group by all order by n desc, reason, table_name"
        ).fetchall()
    if "staging.stg_loader__reconciliation" in have:
        out["reconciliation"] = con.execute(
            "select drop_id, table_name, rows_manifest, rows_read, rows_loaded, rows_duplicate, "
            "rows_quarantined, balanced from staging.stg_loader__reconciliation "
            "order by drop_id, table_name"
        ).fetchall()
    return out


def _run_ge(
    db_path: Path, checks: list[Check], thresholds: Thresholds, run_id: str, docs_dir: Path | None
) -> tuple[dict[str, dict[str, Any]], Path | None]:
    """Run the GE checkpoint; return check_name -> GE result dict, and the Data Docs index."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from expectations.ge_duckdb import add_duckdb_datasource, close_datasource

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        context.add_data_docs_site(
            site_name="ildwh",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    ds = add_duckdb_datasource(context, "warehouse", db_path)
    by_table: dict[str, list[Check]] = {}
    for c in checks:
        by_table.setdefault(c.table, []).append(c)
    run_identifier = gx.core.run_identifier.RunIdentifier(run_name=run_id)
    validation_results = []
    for table, table_checks in by_table.items():
        schema, name = table.split(".", 1)
        asset = ds.add_table_asset(name=table, table_name=name, schema_name=schema)
        batch_def = asset.add_batch_definition_whole_table("whole_table")
        suite = context.suites.add(gx.ExpectationSuite(name=table))
        for c in table_checks:
            suite.add_expectation(_expectation(c, 1.0 - thresholds.of(c.check_id)["threshold"]))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=table, data=batch_def, suite=suite)
        )
        # Failing-row examples by the table's key (record_id / person_key), never by identifiers.
        keys = sorted({c.key_column for c in table_checks if c.key_column and c.kind != "rows"})
        result_format: dict[str, Any] = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": N_EXAMPLES,
        }
        if keys:
            result_format["unexpected_index_column_names"] = keys
        validation_results.append(
            definition.run(result_format=result_format, run_id=run_identifier)
        )
    out: dict[str, dict[str, Any]] = {}
    for vres in validation_results:
        for r in vres.results:
            cfg = r.expectation_config
            name = (cfg.meta or {}).get("check_name")
            out[name] = {
                "success": r.success,
                "result": r.result or {},
                "exception": (r.exception_info or {}).get("exception_message")
                if (r.exception_info or {}).get("raised_exception")
                else None,
                "type": cfg.type,
            }
    close_datasource(ds)
    if docs_dir is not None:
        context.build_data_docs(site_names=["ildwh"])
    index = docs_dir / "index.html" if docs_dir is not None else None
    return out, (index if index is not None and index.exists() else None)


def run_checkpoint(
    db_path: Path,
    run_id: str,
    reports_dir: Path,
    previous_db: Path | None = None,
    history_db: Path | None = None,
    *,
    thresholds_path: Path | None = None,
    data_docs: bool = True,
) -> DqOutcome:
    """Validate the warehouse ``db_path``; append the results to its ``dq.results``.

    Parameters
    ----------
    db_path : the dbt build DuckDB file (schemas staging, intermediate, marts).
    run_id : identifier of this refresh, stored with every result row.
    reports_dir : where ``dq-summary.html`` and ``data-docs/`` are written.
    previous_db : the previously published warehouse; its ``marts.attrition`` bounds this run's
        cohort counts and group shares (checks are not_applicable without it).
    history_db : a warehouse holding ``dq.results`` of earlier runs, for "change since last run".
    thresholds_path : another thresholds.yml (default: ``expectations/thresholds.yml``).
    data_docs : build GE Data Docs under ``reports_dir/data-docs``.

    Returns
    -------
    DqOutcome, with ``ok`` False when any ``error`` check failed.
    """
    t0 = time.perf_counter()
    db_path = Path(db_path)
    if not db_path.exists():
        raise IldwhError(f"{db_path}: no warehouse file to validate; run `ildwh build` first")
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    thresholds = load_thresholds(thresholds_path)
    checks = build_checks(thresholds, previous_attrition(previous_db))
    history = _read_history(history_db, run_id)
    checked_at = datetime.now(UTC).replace(tzinfo=None)

    # Same (default) configuration as GE's connections: DuckDB refuses to open one file twice in
    # a process with different settings.
    con = duckdb.connect(str(db_path))
    try:
        have = existing_columns(con)
        runnable, missing = [], {}
        for c in checks:
            if c.kind == "tables":
                continue
            if c.table not in have:
                missing[c.name] = f"table {c.table} is not in this warehouse"
            elif c.column and c.column not in have[c.table]:
                missing[c.name] = f"column {c.table}.{c.column} is not in this warehouse"
            else:
                runnable.append(c)
        # Denominators and examples of the SQL (`rows`) checks; GE counts their failing rows.
        extra: dict[str, tuple[int, list[str]]] = {}
        for c in runnable:
            if c.kind == "rows":
                try:
                    total = con.execute(c.params["total_sql"].format(table=c.table)).fetchone()[0]
                    ex = con.execute(
                        "select * from ("
                        + c.params["failed_sql"].format(table=c.table)
                        + f") limit {N_EXAMPLES}"
                    ).fetchall()
                    extra[c.name] = (int(total or 0), [str(e[0]) for e in ex])
                except duckdb.Error as exc:
                    missing[c.name] = f"cannot evaluate: {str(exc).splitlines()[0]}"
        runnable = [c for c in runnable if c.name not in missing]
        loader = _loader_tables(con, have)
    finally:
        con.close()

    docs_dir = reports_dir / "data-docs" if data_docs else None
    ge_results, docs_index = _run_ge(db_path, runnable, thresholds, run_id, docs_dir)

    rows: list[dict[str, Any]] = []
    for c in checks:
        cfg = thresholds.of(c.check_id)
        thr = float(cfg["threshold"])
        note, n_rows, n_failed, examples = None, 0, 0, []
        etype = {
            "not_null": "expect_column_values_to_not_be_null",
            "in_set": "expect_column_values_to_be_in_set",
            "not_in_set": "expect_column_values_to_not_be_in_set",
            "between": "expect_column_values_to_be_between",
            "rows": "unexpected_rows_expectation",
            "tables": "required_tables_exist",
        }[c.kind]
        if c.kind == "tables":
            wanted = list(c.params["tables"])
            absent = [t for t in wanted if t not in have]
            n_rows, n_failed, examples = len(wanted), len(absent), absent[:N_EXAMPLES]
        elif c.name in missing:
            note = missing[c.name]
        else:
            g = ge_results.get(c.name)
            if g is None or g["exception"]:
                note = f"expectation raised: {g['exception'] if g else 'no result'}"
                n_rows, n_failed = 1, 1  # a check that cannot run is a failure, never a pass
            elif c.kind == "rows":
                n_rows, examples = extra[c.name]
                n_failed = int(g["result"].get("observed_value") or 0)
            else:
                res = g["result"]
                element = int(res.get("element_count") or 0)
                missing_n = int(res.get("missing_count") or 0)
                n_rows = element if c.kind == "not_null" else element - missing_n
                n_failed = int(res.get("unexpected_count") or 0)
                idx = res.get("partial_unexpected_index_list") or []
                if c.key_column and idx and isinstance(idx[0], dict):
                    examples = [str(i.get(c.key_column)) for i in idx][:N_EXAMPLES]
                elif c.kind != "not_null":
                    examples = [str(v) for v in res.get("partial_unexpected_list") or []]
                    examples = examples[:N_EXAMPLES]
        status, share = _status(n_rows, n_failed, thr)
        prev = history.get(c.name, {})
        schema_table = c.table
        rows.append(
            {
                "run_id": run_id,
                "checked_at": checked_at,
                "suite": c.suite,
                "category": cfg["category"],
                "severity": cfg["severity"],
                "table_name": schema_table,
                "column_name": c.column,
                "expectation_type": etype,
                "description": c.description,
                "status": status,
                "n_rows": n_rows,
                "n_failed": n_failed,
                "failed_share": share,
                "threshold": thr,
                "examples": json.dumps(examples, ensure_ascii=False),
                "check_id": c.check_id,
                "check_name": c.name,
                "note": note,
                "previous_n_failed": prev.get("n_failed"),
                "previous_status": prev.get("status"),
            }
        )

    _store(db_path, rows)
    counts: dict[str, dict[str, int]] = {}
    for (sev, st), n in Counter((r["severity"], r["status"]) for r in rows).items():
        counts.setdefault(sev, {})[st] = n
    ok = not any(r["severity"] == "error" and r["status"] == "failed" for r in rows)
    elapsed = time.perf_counter() - t0
    from expectations.summary import write_summary

    summary_path = write_summary(
        reports_dir / "dq-summary.html",
        rows=rows,
        counts=counts,
        ok=ok,
        run_id=run_id,
        db_path=db_path,
        elapsed_s=elapsed,
        loader=loader,
        history_run=next(iter(history.values()), {}).get("run_id"),
        data_docs=docs_index,
        previous_db=previous_db if previous_db and Path(previous_db).exists() else None,
    )
    return DqOutcome(
        run_id=run_id,
        ok=ok,
        results=tuple(rows),
        counts=counts,
        elapsed_s=time.perf_counter() - t0,
        summary_path=summary_path,
        data_docs_path=docs_index,
    )


def _store(db_path: Path, rows: list[dict[str, Any]]) -> None:
    con = duckdb.connect(str(db_path))
    try:
        con.execute(RESULTS_DDL)
        placeholders = ", ".join("?" for _ in RESULT_COLUMNS)
        con.executemany(
            f"insert into dq.results ({', '.join(RESULT_COLUMNS)}) values ({placeholders})",
            [[r[k] for k in RESULT_COLUMNS] for r in rows],
        )
    finally:
        con.close()


def format_summary(outcome: DqOutcome) -> str:
    """A few lines for the terminal: the verdict, counts, and each failed check."""
    verdict = (
        "PASS: figures may be published"
        if outcome.ok
        else "FAIL: an error-level check failed; figures must not be published"
    )
    lines = [f"data quality {outcome.run_id}: {verdict} ({outcome.elapsed_s:.1f} s)"]
    for sev in ("error", "warn", "info"):
        c = outcome.counts.get(sev, {})
        lines.append(
            f"  {sev:5s}  passed {c.get('passed', 0):3d}  failed {c.get('failed', 0):3d}"
            f"  not applicable {c.get('not_applicable', 0):3d}"
        )
    for r in outcome.results:
        if r["status"] == "failed" and r["severity"] != "info":
            share = f"{r['failed_share']:.2%}" if r["failed_share"] is not None else "-"
            lines.append(
                f"  [{r['severity']}] {r['check_name']}: {r['n_failed']} of "
                f"{r['n_rows']} rows ({share}, allowed {r['threshold']:.2%})"
                + (f"; {r['note']}" if r["note"] else "")
            )
    lines.append(f"  summary: {outcome.summary_path}")
    if outcome.data_docs_path:
        lines.append(f"  data docs: {outcome.data_docs_path}")
    return "\n".join(lines)


def run_checkpoint_cli(paths: Any, db: str | None) -> int:
    """``ildwh dq``: validate ``db`` (default the working copy); exit 1 when an error fails."""
    db_path = Path(db) if db else paths.build_db
    analytics = paths.analytics_db if paths.analytics_db.exists() else None
    if analytics is not None and analytics.resolve() == db_path.resolve():
        analytics = None
    run_id = "dq-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    outcome = run_checkpoint(
        db_path, run_id, paths.reports_dir, previous_db=analytics, history_db=analytics
    )
    print(format_summary(outcome))
    return 0 if outcome.ok else 1
