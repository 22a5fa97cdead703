"""`ildwh stats roc|km|cox` through the real CLI entry point on a DuckDB file made here."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ildwh.cli import main


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    rng = np.random.default_rng(12345)
    n = 120
    adm = (np.arange(n) < 45).astype(int)
    df = pd.DataFrame(
        {
            "id": np.arange(n),
            "adm": adm,
            "ldh": np.round(np.where(adm == 1, rng.normal(290, 80, n), rng.normal(205, 55, n))),
            "ana": np.where(adm == 1, rng.random(n) < 0.75, rng.random(n) < 0.45),
            "months": np.round(rng.uniform(1, 70, n), 1),
            "died": (rng.random(n) < 0.3).astype(int),
            "pattern": np.where(rng.random(n) < 0.6, "NSIP", "OP"),
            "age": np.round(rng.normal(60, 12, n)),
            "label3": rng.integers(0, 3, n),
        }
    )
    path = tmp_path_factory.mktemp("stats") / "t.duckdb"
    con = duckdb.connect(str(path))
    con.register("df", df)
    con.execute("create table patients as select * from df")
    con.close()
    return path, df


def run(capsys, *argv):
    rc = main(["stats", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_roc_json_shape_and_values(db, capsys):
    path, df = db
    rc, out, _ = run(
        capsys,
        "roc",
        "--db",
        str(path),
        "--query",
        "select ldh, adm from patients",
        "--score",
        "ldh",
        "--label",
        "adm",
        "--json",
    )
    assert rc == 0
    j = json.loads(out)
    assert list(j) == [
        "n",
        "n_positive",
        "direction",
        "auc",
        "auc_ci",
        "auc_ci_method",
        "p_value",
        "cutoff",
        "sensitivity",
        "sensitivity_ci",
        "specificity",
        "specificity_ci",
        "ppv",
        "ppv_ci",
        "npv",
        "npv_ci",
        "ci_method",
    ]
    assert (j["n"], j["n_positive"], j["direction"]) == (120, 45, "higher")
    assert j["auc"] == pytest.approx(roc_auc_score(df.adm, df.ldh), rel=1e-12)
    assert j["auc_ci"][0] < j["auc"] < j["auc_ci"][1] and len(j["sensitivity_ci"]) == 2
    assert j["ci_method"] == "Wilson score" and "DeLong" in j["auc_ci_method"]


def test_roc_readable_table(db, capsys):
    path, _ = db
    rc, out, _ = run(
        capsys,
        "roc",
        "--db",
        str(path),
        "--query",
        "select * from patients",
        "--score",
        "ana",
        "--label",
        "adm",
        "--direction",
        "higher",
    )
    assert rc == 0
    assert "AUC" in out and "sensitivity" in out and "Youden cutoff: 0.5" in out


def test_km_json_shape(db, capsys):
    path, df = db
    rc, out, _ = run(
        capsys,
        "km",
        "--db",
        str(path),
        "--query",
        "select * from patients",
        "--time",
        "months",
        "--event",
        "died",
        "--group",
        "pattern",
        "--times",
        "12,36",
        "--json",
    )
    assert rc == 0
    j = json.loads(out)
    assert list(j) == ["groups", "logrank"]
    assert [g["group"] for g in j["groups"]] == ["NSIP", "OP"]
    g = j["groups"][0]
    assert list(g) == ["group", "n", "events", "median", "survival"]
    assert g["n"] == int((df.pattern == "NSIP").sum())
    assert [s["time"] for s in g["survival"]] == [12.0, 36.0]
    assert list(g["survival"][0]) == ["time", "estimate", "ci", "at_risk"]
    assert g["survival"][0]["at_risk"] == int(((df.pattern == "NSIP") & (df.months >= 12)).sum())
    assert list(j["logrank"]) == ["chi2", "df", "p_value"] and j["logrank"]["df"] == 1


def test_km_one_group_logrank_null(db, capsys):
    path, _ = db
    rc, out, _ = run(
        capsys,
        "km",
        "--db",
        str(path),
        "--query",
        "select * from patients",
        "--time",
        "months",
        "--event",
        "died",
        "--json",
    )
    assert rc == 0 and json.loads(out)["logrank"] is None


def test_cox_json_shape(db, capsys):
    path, _ = db
    rc, out, _ = run(
        capsys,
        "cox",
        "--db",
        str(path),
        "--query",
        "with a as (select * from patients where adm = 1) select * from a",
        "--time",
        "months",
        "--event",
        "died",
        "--covariates",
        "age,ana",
        "--json",
    )
    assert rc == 0
    j = json.loads(out)
    assert list(j) == ["n", "events", "ties", "covariates", "concordance", "ph_test", "warnings"]
    assert j["n"] == 45 and j["ties"] == "efron"
    assert [c["name"] for c in j["covariates"]] == ["age", "ana"]
    assert list(j["covariates"][0]) == ["name", "coef", "se", "hr", "hr_ci", "p_value"]
    assert list(j["ph_test"][0]) == ["name", "p_value"]
    assert any("events per variable" in w for w in j["warnings"])


def test_cox_readable(db, capsys):
    path, _ = db
    rc, out, _ = run(
        capsys,
        "cox",
        "--db",
        str(path),
        "--query",
        "select * from patients",
        "--time",
        "months",
        "--event",
        "died",
        "--covariates",
        "age",
    )
    assert rc == 0 and "Cox PH (ties = efron)" in out and "age" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (
            ["roc", "--query", "select * from patients", "--score", "nope", "--label", "adm"],
            "unknown column(s) nope",
        ),
        (
            ["roc", "--query", "select * from patients", "--score", "ldh", "--label", "label3"],
            "column label3 must be binary",
        ),
        (
            [
                "km",
                "--query",
                "select months - 50 as t, died from patients",
                "--time",
                "t",
                "--event",
                "died",
            ],
            "negative time",
        ),
        (
            [
                "km",
                "--query",
                "select * from patients where false",
                "--time",
                "months",
                "--event",
                "died",
            ],
            "returned no rows",
        ),
        (
            [
                "cox",
                "--query",
                "delete from patients",
                "--time",
                "months",
                "--event",
                "died",
                "--covariates",
                "age",
            ],
            "only a SELECT",
        ),
        (
            [
                "cox",
                "--query",
                "select 1; drop table patients",
                "--time",
                "months",
                "--event",
                "died",
                "--covariates",
                "age",
            ],
            "exactly one SELECT",
        ),
        (
            ["km", "--query", "select * from nowhere", "--time", "months", "--event", "died"],
            "nowhere",
        ),
        (
            [
                "km",
                "--query",
                "select * from patients",
                "--time",
                "months",
                "--event",
                "died",
                "--times",
                "12,x",
            ],
            "--times",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_message(db, capsys, argv, message):
    path, _ = db
    argv = [argv[0], "--db", str(path), *argv[1:]]
    rc, out, err = run(capsys, *argv)
    assert rc == 2
    assert out == ""
    assert err.startswith("ildwh: error: ") and message in err
    assert err.count("\n") == 1


def test_database_is_untouched_and_opened_read_only(db, capsys):
    path, _ = db
    run(
        capsys,
        "cox",
        "--db",
        str(path),
        "--query",
        "delete from patients",
        "--time",
        "months",
        "--event",
        "died",
        "--covariates",
        "age",
    )
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("select count(*) from patients").fetchone()[0] == 120
    con.close()


def test_missing_db_file_is_an_error(tmp_path, capsys):
    rc, _, err = run(
        capsys,
        "km",
        "--db",
        str(tmp_path / "none.duckdb"),
        "--query",
        "select 1",
        "--time",
        "a",
        "--event",
        "b",
    )
    assert rc == 2 and "no such database file" in err
