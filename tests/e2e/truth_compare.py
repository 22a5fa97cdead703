"""Compare the built marts with the generator's `_truth/patients.csv`, patient by patient."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pandas as pd

from ildwh.keys import person_key

COHORT_COLUMNS = (
    "index_date",
    "hrct_pattern",
    "exit_reason",
    "analysis_group",
    "control_diagnosis",
)
SURVIVAL_COLUMNS = ("event", "time_days")
REL_TOL = 1e-6


def _blank(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) or v == ""


def _same(truth, got) -> bool:
    if hasattr(got, "item"):
        got = got.item()  # numpy scalar -> Python
    if _blank(truth) or _blank(got):
        return _blank(truth) and _blank(got)
    if isinstance(got, bool):
        return float(truth) == float(got)
    if isinstance(got, (int, float)):
        t = float(truth)
        return math.isclose(t, float(got), rel_tol=REL_TOL, abs_tol=1e-9)
    return str(truth) == str(got)


def compare(extract_root: Path, build_db: Path, key: bytes) -> tuple[list[str], dict]:
    """Return (mismatch descriptions, counts) between `_truth/patients.csv` and the marts."""
    truth = pd.read_csv(extract_root / "_truth" / "patients.csv", dtype=str, keep_default_na=False)
    truth["person_key"] = [person_key(m, key) for m in truth["mrn"]]
    truth = truth.set_index("person_key")
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        cohort = (
            con.execute(
                "select *, cast(index_date as varchar) as index_date_text from marts.cohort"
            )
            .df()
            .set_index("person_key")
        )
        baseline = con.execute("select * from marts.baseline").df().set_index("person_key")
        survival = con.execute("select * from marts.survival").df().set_index("person_key")
        attrition = con.execute(
            "select step, n_remaining, n_excluded from marts.attrition order by step_order"
        ).fetchall()
    finally:
        con.close()
    cohort["index_date"] = cohort.pop("index_date_text")
    problems: list[str] = []
    screened = truth[truth["screened"] == "1"]
    extra = set(cohort.index) - set(screened.index)
    missing = set(screened.index) - set(cohort.index)
    for pk in sorted(extra):
        problems.append(
            f"{truth.loc[pk, 'mrn'] if pk in truth.index else pk}: screened by dbt, not in truth"
        )
    for pk in sorted(missing):
        problems.append(f"{truth.loc[pk, 'mrn']}: screened in truth, not by dbt")
    baseline_cols = [c for c in baseline.columns if c in truth.columns and c != "person_key"]
    for pk, t in screened.iterrows():
        if pk not in cohort.index:
            continue
        row = cohort.loc[pk]
        for col in COHORT_COLUMNS:
            if not _same(t[col], row[col]):
                problems.append(f"{t['mrn']}: {col} truth={t[col]!r} dbt={row[col]!r}")
        if t["exit_reason"] != "analysed" or pk not in baseline.index:
            continue
        for col in baseline_cols:
            if not _same(t[col], baseline.loc[pk, col]):
                problems.append(f"{t['mrn']}: {col} truth={t[col]!r} dbt={baseline.loc[pk, col]!r}")
        for col in SURVIVAL_COLUMNS:
            if pk in survival.index and not _same(t[col], survival.loc[pk, col]):
                problems.append(f"{t['mrn']}: {col} truth={t[col]!r} dbt={survival.loc[pk, col]!r}")
    return problems, {"attrition": attrition, "n_screened": len(cohort), "n_checked": len(screened)}
