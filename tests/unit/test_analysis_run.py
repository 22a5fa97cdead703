"""The whole study analysis on a synthetic marts database: results tables, figures, report,
`ildwh analyse` and `ildwh export`."""

from __future__ import annotations

import json
import re
import shutil

import duckdb
import pytest

from analysis.export import suppress_small_cells
from analysis.run import run_study_analysis
from analysis.synthetic_marts import GROUP_SIZES, write_marts_db
from analysis.tables import TABLE2_ROWS
from ildwh.cli import main
from ildwh.config import PUBLISHED_RESULTS

PUB = json.loads(PUBLISHED_RESULTS.read_text())


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    db = write_marts_db(root / "build.duckdb")
    out = run_study_analysis(
        db,
        root / "reports",
        "run-42",
        "drop-007",
        dq_status={"status": "passed", "errors": 0, "warnings": 3},
        run_history=[{"run_id": "run-41", "status": "published", "data_freshness": "drop-006"}],
    )
    return root, db, out


def q(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_results_schema_has_one_long_table_per_analysis(outcome):
    _, db, out = outcome
    assert set(out.results_tables) == {"table1", "table2", "roc", "km", "logrank", "cox"}
    for name in out.results_tables:
        df = q(db, f"select * from results.{name}")
        assert list(df.columns) == [
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
        ]
        assert set(df.run_id) == {"run-42"} and set(df.data_freshness) == {"drop-007"}
        both = df.dropna(subset=["ours", "published"])
        assert ((both.ours - both.published - both.difference).abs() < 1e-9).all()
        assert df.loc[df.published.isna(), "difference"].isna().all()


def test_published_figures_sit_beside_ours(outcome):
    _, db, _ = outcome
    roc = q(db, "select * from results.roc where subgroup = 'ldh' and item = 'auc'")
    got = dict(zip(roc.statistic, roc.published, strict=True))
    assert got["auc"] == 0.828 and got["ci_lower"] == 0.7658 and got["ci_upper"] == 0.8895
    assert roc.loc[roc.statistic == "p_value", "published"].isna().all()  # printed "<0.001"
    t2 = q(
        db,
        "select * from results.table2 where item = 'age_years' and subgroup = 'OP' "
        "and statistic in ('adm_mean', 'control_sd', 'p_value')",
    )
    assert sorted(t2.published) == sorted([57.65, 15.16, 0.838])
    assert set(q(db, "select distinct item from results.table2").item) == {
        k for k, *_ in TABLE2_ROWS
    }
    km = q(db, "select * from results.km where subgroup = 'ADM-OP' and statistic = 'estimate'")
    assert sorted(km.published.dropna()) == sorted(PUB["survival"]["os_1_3_5_years"]["ADM-OP"])
    cox = q(db, "select * from results.cox where subgroup = 'multivariate' and statistic = 'hr'")
    assert dict(zip(cox.item, cox.published, strict=True)) == {
        "age_years": 1.09,
        "smoking_history": 4.70,
        "anti_mda5": 5.13,
        "wbc_10e9_per_l": 1.21,
    }
    t1 = q(db, "select * from results.table1 where item = 'n'")
    assert dict(zip(t1.subgroup, t1.ours, strict=True)) == {
        "ALL": 69.0,
        "ADM-NSIP": 46.0,
        "ADM-OP": 23.0,
    }
    lr = q(db, "select * from results.logrank where statistic = 'p_value'")
    assert dict(zip(lr.subgroup, lr.published, strict=True)) == {"NSIP": 0.391, "OP": 0.002}


def test_every_table2_row_names_its_test(outcome):
    _, db, _ = outcome
    t2 = q(db, "select * from results.table2 where statistic = 'p_value'")
    assert len(t2) == 2 * len(TABLE2_ROWS)
    assert t2.method.str.match(r"^(Welch t-test|Mann-Whitney U|Pearson chi-square|Fisher)").all()


def test_figures_png_and_svg(outcome):
    root, _, out = outcome
    stems = {p.stem for p in out.figure_paths}
    assert stems == {
        "roc",
        "km_nsip",
        "km_op",
        "forest_univariate",
        "forest_multivariate",
        "attrition",
    }
    for p in out.figure_paths:
        assert p.parent == root / "reports" / "figures" and p.stat().st_size > 5000
    assert sum(p.suffix == ".svg" for p in out.figure_paths) == 6


def test_report_is_self_contained_with_all_sections(outcome):
    _, _, out = outcome
    html = out.report_path.read_text(encoding="utf-8")
    for section in (
        'id="flow"',
        'id="t1"',
        'id="t2"',
        'id="roc"',
        'id="km"',
        'id="cox"',
        'id="methods"',
    ):
        assert section in html
    assert html.count("data:image/png;base64,") == 6
    assert not re.search(r'(src|href)="(https?:|//|[^"#d])', html)  # nothing external
    assert "drop-007" in html and "run-41" in html and "passed" in html
    assert "Welch" in html and "DeLong" in html and "log-log" in html and "Efron" in html
    assert "0.828" in html  # the paper's LDH AUC shown beside ours
    # the methods paragraph counts the tests that actually ran
    m = re.search(r"In this run: ([^.]*)\.", html)
    n_rows = sum(int(x) for x in re.findall(r"on (\d+) row", m.group(1)))
    assert n_rows == 2 * len(TABLE2_ROWS)


def test_report_without_dq_or_history(tmp_path):
    db = write_marts_db(tmp_path / "b.duckdb")
    out = run_study_analysis(db, tmp_path / "r", "run-1", None)
    html = out.report_path.read_text()
    assert "not supplied" in html and "No earlier runs recorded" in html and "unknown" in html


def test_outcome_key_figures(outcome):
    _, _, out = outcome
    k = out.key_figures
    assert k["n_analysed"] == sum(GROUP_SIZES.values())
    assert 0.5 < k["roc_ldh_auc"] < 1 and set(k["logrank_p"]) == {"NSIP", "OP"}
    assert set(k["cox_multivariate_hr"]) == {
        "age_years",
        "smoking_history",
        "anti_mda5",
        "wbc_10e9_per_l",
    }
    assert any("events per variable" in w for w in out.warnings)


def test_missing_mart_is_an_actionable_error(tmp_path, capsys):
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    rc = main(["--home", str(tmp_path / "home"), "analyse", "--db", str(db)])
    assert rc == 2
    assert "marts.baseline is missing; run the dbt build first" in capsys.readouterr().err


def test_cli_analyse_then_export_suppresses_small_cells(tmp_path, capsys):
    home = tmp_path / "home"
    db = write_marts_db(tmp_path / "b.duckdb")
    assert main(["--home", str(home), "analyse", "--db", str(db)]) == 0
    assert (home / "reports" / "study-report.html").exists()
    (home / "warehouse").mkdir(parents=True, exist_ok=True)
    shutil.copy(db, home / "warehouse" / "analytics.duckdb")
    capsys.readouterr()
    assert main(["--home", str(home), "export", "--min-cell", "5"]) == 0
    printed = capsys.readouterr().out
    assert "suppressed" in printed
    import pandas as pd

    t1 = pd.read_csv(home / "reports" / "export" / "table1.csv", dtype=str)
    counts = t1[t1.statistic == "count"]
    shown = pd.to_numeric(counts.ours, errors="coerce").dropna()
    assert not ((shown > 0) & (shown < 5)).any()
    hidden = counts[counts.ours == "<5"]
    assert len(hidden) >= 1
    assert len(hidden) == sum(
        f"table1: {s} / {i} / count = <5" in printed
        for s, i in zip(hidden.subgroup, hidden["item"], strict=True)
    )
    # the percentage of a hidden count is hidden too
    for s, i in zip(hidden.subgroup, hidden["item"], strict=True):
        pct = t1[(t1.subgroup == s) & (t1["item"] == i) & (t1.statistic == "pct")]
        assert pct.ours.isna().all()
    assert {p.name for p in (home / "reports" / "export").iterdir()} == {
        "table1.csv",
        "table2.csv",
        "roc.csv",
        "km.csv",
        "logrank.csv",
        "cox.csv",
    }


def test_suppression_keeps_zero_and_large_counts():
    import pandas as pd

    f = pd.DataFrame(
        {
            "analysis": "t",
            "subgroup": "A",
            "item": ["a", "a", "b", "c"],
            "statistic": ["count", "pct", "count", "count"],
            "ours": [3.0, 6.5, 0.0, 12.0],
            "published": [None, None, 1.0, 12.0],
            "difference": [None, None, -1.0, 0.0],
            "is_count": [True, False, True, True],
        }
    )
    out, notes = suppress_small_cells(f, 5)
    assert list(out.ours) == ["<5", None, 0.0, 12.0]
    assert notes == ["t: A / a / count = <5"]
