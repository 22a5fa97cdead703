"""The nightly refresh: load new drops -> dbt build -> data-quality gate -> analysis -> publish.

Thin orchestration (STYLE.md): every rule lives in dbt SQL, `expectations/` or `analysis/`; this file
only sequences them, gates publication, records the run and keeps the published files untouched on
any failure. Build happens in a working copy (`<home>/work`); publication renames a complete new
`analytics.duckdb` over the old one and moves the staged report files into `<home>/reports`.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from rich.console import Console

from ildwh import IldwhError, runs
from ildwh import publish as pub
from ildwh.config import Paths
from ildwh.keys import load_key

console = Console(highlight=False, soft_wrap=True)

STAGES = ("load", "dbt", "data_quality", "analysis", "publish")
# Per-stage wall-clock limits (seconds). Prefect cannot interrupt a blocking call in a sync task, so
# these bound the stage as seen by the flow; dbt and the loader also bound their own work.
STAGE_TIMEOUT_S = {
    "load": 3600,
    "dbt": 3600,
    "data_quality": 1800,
    "analysis": 1800,
    "publish": 900,
}


class StageFailed(IldwhError):
    def __init__(self, stage: str, reason: str):
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason


@dataclass
class RefreshOutcome:
    run_id: str
    status: str  # published | nothing_new | failed
    failed_stage: str | None = None
    reason: str | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    drops_loaded: list[str] = field(default_factory=list)
    data_freshness: str | None = None
    paths: dict[str, str] = field(default_factory=dict)
    attrition: list[dict] = field(default_factory=list)
    dq_counts: dict[str, int] = field(default_factory=dict)
    changes: str = ""  # "what changed" since the previous publication (analysis/diff.py)
    material_changes: bool | None = None


# ---------------------------------------------------------------- tasks (thin wrappers)
@task(
    name="load new drops",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=lambda t, r, s: _is_io_error(s),
    timeout_seconds=STAGE_TIMEOUT_S["load"],
)
def load_task(extracts: str, restricted_db: str, force: bool):
    from ildwh.load import load_extracts

    return load_extracts(
        Path(extracts),
        Path(restricted_db),
        force=force,
        progress=lambda msg: console.print(f"    [dim]{msg}[/dim]"),
    )


@task(name="dbt build", timeout_seconds=STAGE_TIMEOUT_S["dbt"])
def dbt_task(home: str, dbt_vars: dict | None = None):
    from ildwh.dbt_runner import dbt_build

    # dbt unit tests check each rule's SQL on fixtures, not tonight's data: CI runs them
    return dbt_build(Paths.at(home), vars=dbt_vars, unit_tests=False)


@task(name="dbt docs", timeout_seconds=600)
def dbt_docs_task(home: str, out_dir: str) -> str | None:
    from ildwh.dbt_runner import dbt_docs_generate

    return dbt_docs_generate(Paths.at(home), out_dir=Path(out_dir))


@task(name="data-quality checkpoint", timeout_seconds=STAGE_TIMEOUT_S["data_quality"])
def dq_task(
    build_db: str,
    run_id: str,
    reports_dir: str,
    previous_db: str | None,
    thresholds: str | None = None,
):
    from expectations.checkpoint import run_checkpoint

    prev = Path(previous_db) if previous_db else None
    return run_checkpoint(
        Path(build_db),
        run_id,
        Path(reports_dir),
        previous_db=prev,
        history_db=prev,
        thresholds_path=Path(thresholds) if thresholds else None,
    )


@task(name="study analysis", timeout_seconds=STAGE_TIMEOUT_S["analysis"])
def analysis_task(
    build_db: str,
    reports_dir: str,
    run_id: str,
    freshness: str | None,
    dq_status: dict | None,
    run_history: list[dict],
    previous_db: str | None = None,
):
    from analysis.run import run_study_analysis

    return run_study_analysis(
        Path(build_db),
        Path(reports_dir),
        run_id,
        freshness,
        dq_status=dq_status,
        run_history=run_history,
        previous_db=Path(previous_db) if previous_db else None,
    )


@task(
    name="publish",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=lambda t, r, s: _is_io_error(s),
    timeout_seconds=STAGE_TIMEOUT_S["publish"],
)
def publish_task(home: str, run_id: str, staged_reports: str) -> dict[str, str]:
    paths = Paths.at(home)
    tmp = paths.warehouse_dir / f".analytics.{run_id}.duckdb.tmp"
    try:
        pub.build_analytics(paths.build_db, paths.restricted_db, paths.analytics_db, tmp, run_id)
        pub.publish_file(tmp, paths.analytics_db)
    finally:
        if tmp.exists():
            tmp.unlink()
    pub.publish_tree(Path(staged_reports), paths.reports_dir)
    return {
        "analytics_db": str(paths.analytics_db),
        "study_report": str(paths.reports_dir / "study-report.html"),
        "dq_summary": str(paths.reports_dir / "dq-summary.html"),
        "data_docs": str(paths.reports_dir / "data-docs" / "index.html"),
        "dbt_docs": str(paths.reports_dir / "dbt-docs" / "index.html"),
    }


def _is_io_error(state) -> bool:
    try:
        state.result()
    except OSError:
        return True
    except Exception:
        return False
    return False


# ---------------------------------------------------------------- helpers
@contextmanager
def _refresh_lock(paths: Paths):
    lock_path = paths.home / ".refresh.lock"
    fh = open(lock_path, "w")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IldwhError(
                f"another refresh is running on {paths.home} (lock {lock_path}); wait for it"
            ) from exc
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def _set_current_stage(paths: Paths, run_id: str, stage: str) -> None:
    """`<home>/runs/current.json`: what the running refresh is doing (for operators and tests)."""
    tmp = paths.runs_dir / "current.json.tmp"
    tmp.write_text(
        json.dumps({"run_id": run_id, "stage": stage, "pid": os.getpid(), "since": time.time()})
    )
    os.replace(tmp, paths.runs_dir / "current.json")


def _latest_drop(restricted_db: Path) -> str | None:
    import duckdb

    if not restricted_db.exists():
        return None
    con = duckdb.connect(str(restricted_db), read_only=True)
    try:
        return con.execute("select max(drop_id) from raw.drops").fetchone()[0]
    except duckdb.CatalogException:
        return None
    finally:
        con.close()


def _last_published(restricted_db: Path) -> dict | None:
    for r in runs.history(restricted_db, limit=200):
        if r["status"] == "published":
            return r
    return None


def _attrition(build_db: Path) -> list[dict]:
    import duckdb

    con = duckdb.connect(str(build_db), read_only=True)
    try:
        cur = con.execute(
            "select step_order, step, n_remaining, n_excluded "
            "from marts.attrition order by step_order"
        )
        return [
            dict(zip(["step_order", "step", "n_remaining", "n_excluded"], r, strict=True))
            for r in cur.fetchall()
        ]
    finally:
        con.close()


# ---------------------------------------------------------------- the flow
@flow(name="nightly_refresh", log_prints=False)
def nightly_refresh(
    home: str | None = None,
    extracts: str | None = None,
    force: bool = False,
    rebuild: bool = False,
    dbt_vars: dict | None = None,
    dq_thresholds: str | None = None,
) -> RefreshOutcome:
    """Load new drops, rebuild, gate, analyse and publish; on any failure publish nothing.

    `dbt_vars` overrides study parameters (dbt vars, e.g. the baseline window) for this run;
    `dq_thresholds` points at another data-quality thresholds file (default
    `expectations/thresholds.yml`, or `$ILDWH_DQ_THRESHOLDS`).
    """
    dq_thresholds = dq_thresholds or os.environ.get("ILDWH_DQ_THRESHOLDS")
    paths = Paths.at(home).ensure()
    extracts_dir = Path(extracts) if extracts else paths.extracts
    logger = get_run_logger()
    run_id = runs.new_run_id()
    out = RefreshOutcome(run_id=run_id, status="running")
    staged = paths.work_dir / f"reports-{run_id}"
    with _refresh_lock(paths):
        # the pseudonym key: $ILDWH_PSEUDONYM_KEY, else the key file, created 0600 on first run
        load_key(paths.key_file, create=True)
        runs.start_run(paths.restricted_db, run_id)
        logger.info("run %s started on %s", run_id, paths.home)
        console.rule(f"[bold]ildwh nightly refresh[/bold]  run {run_id}")
        stage = "load"
        totals: dict[str, Any] = {}
        try:
            # 1. load
            report = _stage(
                out,
                paths,
                stage,
                "loading new drops from " + str(extracts_dir),
                lambda: load_task(str(extracts_dir), str(paths.restricted_db), force),
            )
            out.drops_loaded = list(report.drops_loaded)
            totals = {
                "rows_in": report.rows_read,
                "rows_loaded": report.rows_loaded,
                "rows_quarantined": report.rows_quarantined + report.rows_duplicate,
            }
            out.data_freshness = _latest_drop(paths.restricted_db)
            last = _last_published(paths.restricted_db)
            if (
                not out.drops_loaded
                and not rebuild
                and last is not None
                and last["data_freshness"] == out.data_freshness
                and paths.analytics_db.exists()
            ):
                out.status = "nothing_new"
                console.print(
                    f"[green]nothing new[/green]: latest drop {out.data_freshness} is "
                    f"already published (run {last['run_id']})"
                )
                logger.info("nothing new since run %s", last["run_id"])
                runs.finish_run(
                    paths.restricted_db,
                    run_id,
                    "nothing_new",
                    data_freshness=out.data_freshness,
                    stage_seconds=out.stage_seconds,
                    **totals,
                )
                return out
            if out.data_freshness is None:
                raise StageFailed(
                    "load",
                    f"no drop has been loaded from {extracts_dir}: put a "
                    "drop folder with manifest.json there (or run `ildwh synth`)",
                )
            # 2. dbt build into a fresh working copy
            stage = "dbt"
            for leftover in paths.work_dir.glob("reports-*"):
                shutil.rmtree(leftover, ignore_errors=True)
            for f in (paths.build_db, Path(str(paths.build_db) + ".wal")):
                if f.exists():
                    f.unlink()
            res = _stage(
                out,
                paths,
                stage,
                "dbt build (staging -> intermediate -> marts)",
                lambda: dbt_task(str(paths.home), dbt_vars),
            )
            if not res.ok:
                raise StageFailed("dbt", "; ".join(res.failures[:5]) or "dbt build failed")
            out.attrition = _attrition(paths.build_db)
            staged.mkdir(parents=True, exist_ok=True)
            try:
                dbt_docs_task(str(paths.home), str(staged / "dbt-docs"))
            except Exception as exc:  # docs are a convenience, not a gate
                logger.warning("dbt docs generate failed: %s", exc)
            # 3. data-quality gate
            stage = "data_quality"
            prev = str(paths.analytics_db) if paths.analytics_db.exists() else None
            dq = _stage(
                out,
                paths,
                stage,
                "Great Expectations checkpoint",
                lambda: dq_task(str(paths.build_db), run_id, str(staged), prev, dq_thresholds),
            )
            out.dq_counts = dict(getattr(dq, "counts", {}) or {})
            if not dq.ok:
                failed = [
                    r
                    for r in dq.results
                    if r.get("severity") == "error" and r.get("status") == "failed"
                ]
                names = ", ".join(
                    f"{r.get('table_name')}: {r.get('description')}" for r in failed[:5]
                )
                raise StageFailed(
                    "data_quality",
                    f"{len(failed)} error-severity check(s) "
                    f"failed: {names} (see {staged / 'dq-summary.html'})",
                )
            # 4. analysis
            stage = "analysis"
            dq_status = {
                "status": "passed" if dq.ok else "failed",
                "error checks failed": _count(out.dq_counts, "error"),
                "warn checks failed": _count(out.dq_counts, "warn"),
                "details": "dq-summary.html",
            }
            history = runs.history(paths.restricted_db, limit=10)
            _stage(
                out,
                paths,
                stage,
                "ROC, Kaplan-Meier, Cox, tables, report",
                lambda: analysis_task(
                    str(paths.build_db),
                    str(staged),
                    run_id,
                    out.data_freshness,
                    dq_status,
                    history,
                    prev,
                ),
            )
            # 5. publish (record the run as published first so the copy carries it)
            stage = "publish"

            def record_published() -> None:
                runs.finish_run(
                    paths.restricted_db,
                    run_id,
                    "published",
                    drops_loaded=out.drops_loaded,
                    data_freshness=out.data_freshness,
                    dq_errors=_count(out.dq_counts, "error"),
                    dq_warnings=_count(out.dq_counts, "warn"),
                    stage_seconds=out.stage_seconds,
                    **totals,
                )

            record_published()
            try:
                out.paths = _stage(
                    out,
                    paths,
                    stage,
                    "atomic publication",
                    lambda: publish_task(str(paths.home), run_id, str(staged)),
                )
            except BaseException:
                runs.finish_run(
                    paths.restricted_db,
                    run_id,
                    "failed",
                    failed_stage="publish",
                    failure_reason="publication failed",
                    drops_loaded=out.drops_loaded,
                    **totals,
                )
                raise
            out.status = "published"
            record_published()  # again, now with the publish stage's seconds
            out.changes, out.material_changes = _what_changed(paths, run_id, logger)
            _artifacts(out)
            return out
        except Exception as exc:
            sf = exc if isinstance(exc, StageFailed) else StageFailed(stage, _reason(exc))
            out.status, out.failed_stage, out.reason = "failed", sf.stage, sf.reason
            logger.error("run %s failed at %s: %s", run_id, sf.stage, sf.reason)
            console.print(f"[bold red]refresh failed at stage {sf.stage}[/bold red]: {sf.reason}")
            console.print("the published warehouse and report were left as they were")
            runs.finish_run(
                paths.restricted_db,
                run_id,
                "failed",
                failed_stage=sf.stage,
                failure_reason=sf.reason,
                drops_loaded=out.drops_loaded,
                data_freshness=out.data_freshness,
                stage_seconds=out.stage_seconds,
                **totals,
            )
            shutil.rmtree(staged, ignore_errors=True)
            raise sf from exc
        finally:
            cur = paths.runs_dir / "current.json"
            if cur.exists():
                cur.unlink()


def _reason(exc: BaseException) -> str:
    msg = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, IldwhError):
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" (at {tb[-1].filename}:{tb[-1].lineno})" if tb else ""
        msg = f"{type(exc).__name__}: {msg}{where}"
    return msg


def _count(counts: dict, severity: str) -> int | None:
    """Failed checks of one severity from the checkpoint's counts[severity][status]."""
    if not counts:
        return None
    return int((counts.get(severity) or {}).get("failed", 0))


def _stage(out: RefreshOutcome, paths: Paths, stage: str, label: str, fn: Callable[[], Any]):
    _set_current_stage(paths, out.run_id, stage)
    t0 = time.perf_counter()
    with console.status(f"[bold cyan]{stage}[/bold cyan]  {label} ...", spinner="dots"):
        try:
            return fn()
        finally:
            out.stage_seconds[stage] = time.perf_counter() - t0
            console.print(f"  [bold]{stage:<13}[/bold] {out.stage_seconds[stage]:7.1f} s  {label}")


def _what_changed(paths: Paths, run_id: str, logger) -> tuple[str, bool | None]:
    """`ildwh diff` against the previous publication, for the run summary; material changes are
    sent through the Prefect notification block named by $ILDWH_NOTIFY_BLOCK, if set."""
    from analysis.diff import summarise_publication

    try:
        return summarise_publication(paths.analytics_db, run_id, logger)
    except Exception as exc:  # the diff explains a publication, it never fails one
        logger.warning("run-to-run diff failed: %s", exc)
        return f"run-to-run diff failed: {exc}", None


def _artifacts(out: RefreshOutcome) -> None:
    rows = "\n".join(f"| {k} | {v:.1f} |" for k, v in out.stage_seconds.items())
    create_markdown_artifact(
        key="nightly-refresh-summary",
        markdown=(
            f"# Nightly refresh {out.run_id}\n\nstatus **{out.status}**, data freshness "
            f"`{out.data_freshness}`, drops loaded: {', '.join(out.drops_loaded) or 'none'}"
            f"\n\n| stage | seconds |\n|---|---|\n{rows}\n\n"
            f"data quality: {out.dq_counts}\n" + (f"\n{out.changes}\n" if out.changes else "")
        ),
        description="nightly refresh summary (counts only, no patient-level values)",
    )
    if out.attrition:
        create_table_artifact(
            key="cohort-counts", table=out.attrition, description="attrition: screened -> groups"
        )


# ---------------------------------------------------------------- CLI entry points
def _print_outcome(out: RefreshOutcome) -> None:
    total = sum(out.stage_seconds.values())
    console.rule(f"[bold]{out.status}[/bold]  ({total:.1f} s)")
    if out.attrition:
        console.print(
            "  attrition: " + " -> ".join(f"{a['step']} {a['n_remaining']}" for a in out.attrition)
        )
    for k, v in out.paths.items():
        console.print(f"  {k:<13} {v}")


def refresh_cli(
    paths: Paths, extracts: str | None = None, force: bool = False, rebuild: bool = False
) -> int:
    try:
        out = nightly_refresh(home=str(paths.home), extracts=extracts, force=force, rebuild=rebuild)
    except StageFailed as exc:
        console.print(
            f"[red]run failed at {exc.stage}[/red]; see `ops.runs` in {paths.restricted_db}"
        )
        return 1
    _print_outcome(out)
    return 0


def demo_cli(paths: Paths) -> int:
    """The embedded default: generate the synthetic extract once, then refresh on it."""
    from ildwh.synth import generate

    if not any(paths.extracts.glob("*/manifest.json")):
        console.print(f"generating the synthetic demo extract in {paths.extracts} ...")
        s = generate(paths.extracts, seed=20240101, scale=1, drops=2, background=3)
        console.print(
            f"  {s['n_drops']} drops, {s['n_persons']} persons, {s['n_screened']} screened"
        )
    return refresh_cli(paths)


def serve_cli(
    paths: Paths,
    cron: str = "0 2 * * *",
    timezone: str = "Asia/Shanghai",
    extracts: str | None = None,
) -> int:
    """Serve the flow on a cron schedule. Needs a real Prefect server (PREFECT_API_URL)."""
    if not os.environ.get("PREFECT_API_URL"):
        raise IldwhError(
            "scheduling needs a running Prefect server: start one with `prefect server start` "
            "and export PREFECT_API_URL=http://127.0.0.1:4200/api (see README, Scheduling)"
        )
    from prefect import serve

    deployment = build_deployment(paths, cron, timezone, extracts)
    console.print(f"serving deployment ildwh-nightly: cron '{cron}' ({timezone}); Ctrl-C stops")
    serve(deployment)
    return 0


def build_deployment(
    paths: Paths,
    cron: str = "0 2 * * *",
    timezone: str = "Asia/Shanghai",
    extracts: str | None = None,
):
    """The served deployment: Prefect's own cron schedule, parameters pointing at this home."""
    from prefect.schedules import Cron

    return nightly_refresh.to_deployment(
        name="ildwh-nightly",
        schedules=[Cron(cron, timezone=timezone)],
        parameters={"home": str(paths.home), "extracts": extracts},
        description="ildwh nightly refresh: load -> dbt build -> data quality -> analysis -> publish",
        tags=["ildwh", "nightly"],
    )
