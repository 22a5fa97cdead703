"""The nightly refresh end to end on a generated scale-1 extract (issue: nightly refresh).

Real parts throughout: generated drops, the Prefect flow (test harness API), the DuckDB files, dbt,
Great Expectations and the analysis. Every failure injection must leave the published warehouse and
report byte-identical and record the failed run with its stage.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import duckdb
import pytest
import yaml

from flows.nightly_refresh import StageFailed, nightly_refresh
from ildwh.config import REPO_ROOT, Paths
from ildwh.synth import generate

pytestmark = pytest.mark.slow

PAPER_ATTRITION = [
    ("screened", 382, 0),
    ("pattern_not_nsip_op", 240, 142),
    ("iim_muscle_involvement", 221, 19),
    ("malignancy", 211, 10),
    ("multiple_ctd", 207, 4),
    ("prior_treatment", 192, 15),
    ("drug_induced", 190, 2),
    ("ADM-NSIP", 46, 0),
    ("control-NSIP", 92, 0),
    ("ADM-OP", 23, 0),
    ("control-OP", 29, 0),
]


def published_fingerprint(paths: Paths) -> dict[str, str]:
    """sha256 of the analytics database and of every published report file."""
    files = [paths.analytics_db] + sorted(p for p in paths.reports_dir.rglob("*") if p.is_file())
    return {
        str(p.relative_to(paths.home)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    }


def last_run(paths: Paths) -> dict:
    con = duckdb.connect(str(paths.restricted_db), read_only=True)
    try:
        cur = con.execute("select * from ops.runs order by started_at desc limit 1")
        cols = [d[0] for d in cur.description]
        return dict(zip(cols, cur.fetchone(), strict=True))
    finally:
        con.close()


@pytest.fixture(scope="module")
def home(tmp_path_factory, prefect_harness) -> Paths:
    paths = Paths.at(tmp_path_factory.mktemp("refresh") / "home").ensure()
    generate(paths.extracts, seed=20240101, scale=1, drops=2, background=3)
    out = nightly_refresh(home=str(paths.home))
    assert out.status == "published", out
    return paths


def test_demo_refresh_publishes_the_papers_attrition(home):
    con = duckdb.connect(str(home.analytics_db), read_only=True)
    rows = con.execute(
        "select step, n_remaining, n_excluded from marts.attrition order by step_order"
    ).fetchall()
    assert rows == PAPER_ATTRITION
    schemas = {
        r[0]
        for r in con.execute(
            "select distinct table_schema from information_schema.tables"
        ).fetchall()
    }
    assert {"marts", "results", "dq", "ops", "history"} <= schemas
    assert "raw" not in schemas and "staging" not in schemas
    assert (
        con.execute("select status from ops.runs order by started_at desc limit 1").fetchone()[0]
        == "published"
    )
    con.close()
    for name in ("study-report.html", "dq-summary.html"):
        assert (home.reports_dir / name).stat().st_size > 10_000
    assert oct(home.analytics_db.stat().st_mode & 0o777) == "0o600"


def test_no_identifier_value_reaches_analysts(home):
    """Scan every text value of analytics.duckdb for any MRN, name, ID number or phone."""
    con = duckdb.connect(str(home.analytics_db), read_only=True)
    con.execute(f"attach '{home.restricted_db}' as r (read_only)")
    con.execute("""create temp table ident as
        select distinct trim(v) as v from (
            select unnest([mrn, name, id_number, phone]) as v from r.raw.patients)
        where v is not null and length(trim(v)) >= 4""")
    n_ident = con.execute("select count(*) from ident").fetchone()[0]
    assert n_ident > 1000  # the scan has something to find
    cols = con.execute("""select table_schema, table_name, column_name from
        information_schema.columns where table_catalog = current_database()
        and data_type = 'VARCHAR'""").fetchall()
    assert len(cols) > 20
    hits = []
    for schema, table, col in cols:
        n = con.execute(
            f'select count(*) from "{schema}"."{table}" t join ident on trim(t."{col}") = ident.v'
        ).fetchone()[0]
        if n:
            hits.append(f"{schema}.{table}.{col}: {n}")
    assert hits == []
    con.close()


def test_second_run_with_no_new_drop_says_nothing_new(home):
    before = published_fingerprint(home)
    t0 = time.perf_counter()
    out = nightly_refresh(home=str(home.home))
    assert out.status == "nothing_new"
    assert time.perf_counter() - t0 < 60
    assert published_fingerprint(home) == before
    assert last_run(home)["status"] == "nothing_new"


def _expect_failure_leaves_published(home: Paths, stage: str, **kwargs) -> StageFailed:
    before = published_fingerprint(home)
    with pytest.raises(StageFailed) as exc:
        nightly_refresh(home=str(home.home), **kwargs)
    assert exc.value.stage == stage
    assert published_fingerprint(home) == before
    run = last_run(home)
    assert (run["status"], run["failed_stage"]) == ("failed", stage)
    return exc.value


def test_corrupt_drop_is_refused_and_nothing_is_published(home):
    drops = sorted(p for p in home.extracts.iterdir() if (p / "manifest.json").exists())
    bad = home.extracts / "2099-01-01"
    shutil.copytree(drops[-1], bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["drop_id"] = "2099-01-01"
    (bad / "manifest.json").write_text(json.dumps(manifest))
    victim = bad / manifest["files"][0]["name"]
    victim.write_bytes(victim.read_bytes() + b"\n")  # checksum no longer matches
    try:
        err = _expect_failure_leaves_published(home, "load")
        assert "2099-01-01" in err.reason and manifest["files"][0]["name"] in err.reason
    finally:
        shutil.rmtree(bad)


def test_dbt_test_failure_publishes_nothing(home):
    err = _expect_failure_leaves_published(
        home, "dbt", rebuild=True, dbt_vars={"min_screened_patients": 10**9}
    )
    assert "screened" in err.reason


def test_data_quality_error_publishes_nothing(home, tmp_path):
    """A stricter thresholds file (LDH limit 20-150 U/L) turns most baseline LDH values into
    implausible values, above the error threshold: the gate must stop publication."""
    cfg = yaml.safe_load((REPO_ROOT / "expectations" / "thresholds.yml").read_text())
    cfg["plausibility_limits"]["LDH"] = [20, 150]
    strict = tmp_path / "strict.yml"
    strict.write_text(yaml.safe_dump(cfg))
    err = _expect_failure_leaves_published(
        home, "data_quality", rebuild=True, dq_thresholds=str(strict)
    )
    assert "error-severity" in err.reason


def test_analysis_crash_publishes_nothing(home, monkeypatch):
    import analysis.run

    def boom(*a, **k):
        raise RuntimeError("injected analysis failure")

    monkeypatch.setattr(analysis.run, "run_study_analysis", boom)
    err = _expect_failure_leaves_published(home, "analysis", rebuild=True)
    assert "injected analysis failure" in err.reason


def test_sigkill_during_dbt_then_clean_rerun(home):
    before = published_fingerprint(home)
    env = dict(os.environ, ILDWH_HOME=str(home.home), PREFECT_HOME=str(home.home / "prefect-sub"))
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ildwh.cli", "--home", str(home.home), "refresh", "--rebuild"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    current = home.runs_dir / "current.json"
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            if current.exists():
                try:
                    stage = json.loads(current.read_text())["stage"]
                except (ValueError, KeyError):
                    stage = None
                if stage == "dbt":
                    time.sleep(1.0)
                    break
            if proc.poll() is not None:
                pytest.fail(f"refresh ended before the dbt stage (rc {proc.returncode})")
            time.sleep(0.2)
        else:
            pytest.fail("refresh never reached the dbt stage")
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert published_fingerprint(home) == before
    out = nightly_refresh(home=str(home.home), rebuild=True)
    assert out.status == "published"
    con = duckdb.connect(str(home.restricted_db), read_only=True)
    statuses = [
        r[0] for r in con.execute("select status from ops.runs order by started_at").fetchall()
    ]
    con.close()
    assert "abandoned" in statuses and statuses[-1] == "published"


def test_open_reader_keeps_a_consistent_view_across_publication(home):
    reader = duckdb.connect(str(home.analytics_db), read_only=True)
    old_runs = reader.execute("select count(*) from ops.runs").fetchone()[0]
    old_cohort = reader.execute("select count(*) from marts.cohort").fetchone()[0]
    out = nightly_refresh(home=str(home.home), rebuild=True)
    assert out.status == "published"
    # the open reader still sees the old, complete file
    assert reader.execute("select count(*) from ops.runs").fetchone()[0] == old_runs
    assert reader.execute("select count(*) from marts.cohort").fetchone()[0] == old_cohort
    reader.close()
    fresh = duckdb.connect(str(home.analytics_db), read_only=True)
    assert fresh.execute("select count(*) from ops.runs").fetchone()[0] > old_runs
    assert (
        fresh.execute("select max(run_id) from ops.runs where status = 'published'").fetchone()[0]
        == out.run_id
    )
    fresh.close()
