"""Real `dbt build` (via ildwh.dbt_runner) on a hand-made raw layer; asserts the marts by hand."""

from __future__ import annotations

import math
import os

import duckdb
import pytest

from ildwh import IldwhError
from ildwh.config import Paths
from ildwh.dbt_runner import dbt_build, dbt_docs_generate
from ildwh.keys import hmac_pads, person_key
from tests.dbt import scenario
from tests.dbt.raw_layer import write_raw_layer

PHI_COLUMNS = {"mrn", "name", "id_number", "phone", "raw_record"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    home = tmp_path_factory.mktemp("dbt-home")
    paths = Paths.at(home).ensure()
    write_raw_layer(paths.restricted_db, scenario.ROWS)
    saved = os.environ.get("ILDWH_PSEUDONYM_KEY")
    os.environ["ILDWH_PSEUDONYM_KEY"] = scenario.KEY
    try:
        result = dbt_build(paths)
        yield paths, result
    finally:
        if saved is None:
            os.environ.pop("ILDWH_PSEUDONYM_KEY", None)
        else:
            os.environ["ILDWH_PSEUDONYM_KEY"] = saved


@pytest.fixture()
def con(built):
    paths, _ = built
    c = duckdb.connect(str(paths.build_db), read_only=True)
    yield c
    c.close()


def pk(mrn: str) -> str:
    return person_key(mrn, scenario.KEY.encode())


def test_build_passes_every_model_and_test(built):
    _, result = built
    assert result.ok, result.summary_text()
    assert result.n_models >= 36  # 36 of this part, plus any models other parts add
    assert result.n_tests >= 100  # data tests + unit tests
    assert result.n_failed == 0 and result.failures == []
    assert "OK" in result.summary_text()


def test_cohort_matches_hand_worked_answers(con):
    rows = con.execute(
        "select person_key, cast(index_date as varchar), hrct_pattern, exit_reason, analysis_group, "
        "control_diagnosis from marts.cohort"
    ).fetchall()
    got = {r[0]: tuple(r[1:]) for r in rows}
    want = {pk(m): v for m, v in scenario.COHORT.items()}
    assert got == want


def test_attrition_flow_chart(con):
    rows = con.execute("select * from marts.attrition order by step_order").fetchall()
    assert rows == scenario.ATTRITION


def test_baseline_values_units_and_flags(con):
    df = con.execute("select * from marts.baseline").df().set_index("person_key")
    p1 = df.loc[pk("MRN001")]
    assert p1.age_years == 59.0
    assert p1.male and p1.smoking_history  # 男, 已戒烟
    assert p1.ldh_u_per_l == pytest.approx(300.0)  # 5 ukat/L x 60
    assert p1.pao2_mmhg == pytest.approx(12 * 7.50062)
    assert p1.oi_mmhg == pytest.approx(12 * 7.50062 / 0.21)
    assert p1.wbc_10e9_per_l == pytest.approx(6.9)  # decimal comma
    assert math.isnan(p1.ck_u_per_l)  # the only CK was "hemolysed"
    assert p1.ldh_above_normal
    assert p1.anti_mda5 and not p1.anti_ro52  # ++ positive, 弱阳性 negative by default
    assert p1.ana_positive  # 1:320
    assert p1.anti_jo1 is None or p1.anti_jo1 is __import__("pandas").NA  # never tested
    assert p1.heliotrope_rash and p1.minor_cutaneous and p1.mechanic_hands
    assert not p1.gottron_sign and not p1.systemic_symptoms  # fever recorded absent
    # lung function: FEV1/FVC from 06-01 (day -14), DLco from 06-20 (day +5): closest usable per measure
    assert (p1.fev1_pct_pred, p1.fvc_pct_pred, p1.dlco_pct_pred) == (70.0, 75.5, 55.0)
    p2 = df.loc[pk("MRN002")]
    assert p2.ldh_u_per_l == 180.0  # 999 was after treatment start
    assert not p2.ana_positive and not p2.male and p2.age_years == 69.0
    p11 = df.loc[pk("MRN011")]
    assert not p11.male and p11.smoking_history and p11.age_years == 51.0  # later record wins


def test_survival_events_and_censoring(con):
    rows = con.execute(
        "select person_key, time_days, time_months, event from marts.survival"
    ).fetchall()
    got = {r[0]: r[1:] for r in rows}
    assert got[pk("MRN001")] == (365.0, pytest.approx(365 / 30.4375), 1)
    assert got[pk("MRN002")] == (1238.0, pytest.approx(1238 / 30.4375), 0)
    assert got[pk("MRN011")] == (670.0, pytest.approx(670 / 30.4375), 0)  # 2021-03-01 -> 2022-12-31


def test_value_statuses_keep_unusable_rows(con):
    rows = con.execute(
        "select record_id, value_status from staging.stg_ehr__lab_results order by record_id"
    ).fetchall()
    assert dict(rows)["L08"] == "not_numeric"
    assert len(rows) == len(scenario.ROWS["lab_results"])


def test_sql_hmac_equals_python_reference(built, con):
    got = set(
        r[0] for r in con.execute("select person_key from staging.stg_ehr__patients").fetchall()
    )
    mrns = {r["mrn"] for r in scenario.ROWS["patients"]}
    assert got == {pk(m) for m in mrns}
    assert pk(" mrn011 ") == pk("MRN011")
    # the macro's formula on a fresh connection with the pads gives the reference for odd inputs
    ipad, opad = hmac_pads(scenario.KEY.encode())
    c = duckdb.connect()
    c.execute(f"set variable ildwh_hmac_ipad = '{ipad}'")
    c.execute(f"set variable ildwh_hmac_opad = '{opad}'")
    for mrn in ["A1", " b-22 ", "病案号7", "x" * 100]:
        sql = (
            "select left(sha256(unhex(getvariable('ildwh_hmac_opad')) || unhex(sha256(unhex("
            "getvariable('ildwh_hmac_ipad')) || encode(upper(trim(?)))))), 32)"
        )
        assert c.execute(sql, [mrn]).fetchone()[0] == pk(mrn)


def test_no_identifier_leaves_the_raw_layer(built, con):
    paths, _ = built
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = 'build'"
    ).fetchall()
    assert {s for s, _ in tables} >= {"staging", "intermediate", "marts", "seeds"}
    secrets = set()
    for r in scenario.ROWS["patients"]:
        secrets |= {r["mrn"].strip(), r["name"], r["id_number"], r["phone"]}
    secrets |= {r["mrn"].strip() for t in scenario.ROWS.values() for r in t if "mrn" in r}
    for schema, table in tables:
        cols = [
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_catalog = 'build' and table_schema = ? and table_name = ?",
                [schema, table],
            ).fetchall()
        ]
        named = set(cols) - ({"name"} if (schema, table) == ("seeds", "drug_names") else set())
        assert not PHI_COLUMNS & named, (schema, table)  # seeds.drug_names.name is a drug's name
        for col in cols:
            values = con.execute(
                f'select distinct cast("{col}" as varchar) from {schema}.{table}'
            ).fetchall()
            found = {v[0] for v in values if v[0] is not None} & {s.upper() for s in secrets} | (
                {v[0] for v in values if v[0] is not None} & secrets
            )
            assert not found, (schema, table, col, found)
    # neither the key nor its pads in the build database or dbt's target/log files
    ipad, opad = hmac_pads(scenario.KEY.encode())
    needles = [scenario.KEY.encode(), ipad.encode(), opad.encode()]
    files = [paths.build_db, *paths.work_dir.rglob("*")]
    for f in files:
        if f.is_file():
            data = f.read_bytes()
            assert not any(n in data for n in needles), f


def test_docs_generate(built, tmp_path):
    paths, _ = built
    out = dbt_docs_generate(paths, out_dir=tmp_path / "dbt-docs")
    assert out == tmp_path / "dbt-docs"
    page = (out / "index.html").read_text()
    assert "marts" in (out / "catalog.json").read_text()
    assert "int_lab_baselines_selected" in page  # static page embeds manifest and catalog
    assert scenario.KEY not in page


def test_var_flips_weak_positive(built, tmp_path):
    paths, _ = built
    other = Paths.at(tmp_path).ensure()
    other.restricted_db.write_bytes(paths.restricted_db.read_bytes())
    os.environ["ILDWH_PSEUDONYM_KEY"] = scenario.KEY
    try:
        res = dbt_build(other, vars={"weak_positive_counts_positive": True})
    finally:
        os.environ.pop("ILDWH_PSEUDONYM_KEY", None)
    assert res.ok, res.summary_text()
    c = duckdb.connect(str(other.build_db), read_only=True)
    assert c.execute(
        "select anti_ro52 from marts.baseline where person_key = ?", [pk("MRN001")]
    ).fetchone() == (True,)
    c.close()


def test_missing_restricted_db_is_an_actionable_error(tmp_path):
    with pytest.raises(IldwhError, match="restricted.duckdb does not exist"):
        dbt_build(Paths.at(tmp_path))
