"""A small, clean warehouse with the tables the data-quality suites read (tests and demos).

Values are drawn with numpy.random.default_rng(12345) inside physiological limits; every value
set, date order and reconciliation balances. Tests break one thing at a time.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from expectations.suites import BASELINE_COLUMNS, GROUPS

N_ANALYSED = 40
N_SCREENED = 60
N_LABS = 2000
ANALYTE_RANGES = {
    "WBC": (3, 12),
    "LYM": (0.5, 3),
    "HB": (90, 160),
    "PLT": (100, 400),
    "HSCRP": (0, 80),
    "ESR": (2, 100),
    "ALB": (25, 48),
    "ALT": (5, 80),
    "AST": (5, 80),
    "CK": (20, 300),
    "CKMB": (2, 30),
    "LDH": (120, 600),
    "B2MG": (1, 5),
    "FERRITIN": (20, 1500),
    "PAO2": (50, 110),
    "FIO2": (0.21, 0.5),
    "LACTATE": (0.5, 3),
}
PUBLISHED_ATTRITION = [
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


def build_warehouse(path: Path, seed: int = 12345) -> Path:
    rng = np.random.default_rng(seed)
    keys = [f"{i:032x}" for i in range(1, N_SCREENED + 1)]
    analysed = keys[:N_ANALYSED]
    groups = [GROUPS[i % 4] for i in range(N_ANALYSED)]
    cohort = pd.DataFrame(
        {
            "person_key": keys,
            "index_date": pd.to_datetime("2019-01-01")
            + pd.to_timedelta(rng.integers(0, 1400, N_SCREENED), unit="D"),
            "hrct_pattern": [("NSIP" if "NSIP" in g else "OP") for g in groups]
            + ["other"] * (N_SCREENED - N_ANALYSED),
            "exit_reason": ["analysed"] * N_ANALYSED
            + ["pattern_not_nsip_op"] * (N_SCREENED - N_ANALYSED),
            "analysis_group": groups + [None] * (N_SCREENED - N_ANALYSED),
        }
    )
    cohort["index_date"] = cohort["index_date"].dt.date
    baseline = pd.DataFrame(
        {
            "person_key": analysed,
            "analysis_group": groups,
            "hrct_pattern": cohort["hrct_pattern"][:N_ANALYSED],
            "is_adm": [g.startswith("ADM") for g in groups],
            "male": rng.integers(0, 2, N_ANALYSED).astype(bool),
            "ana_positive": rng.integers(0, 2, N_ANALYSED).astype(bool),
            "anti_mda5": rng.integers(0, 2, N_ANALYSED).astype(bool),
        }
    )
    for col, (key, group) in BASELINE_COLUMNS.items():
        lo, hi = {
            "AGE": (30, 80),
            "OI": (150, 450),
            "FEV1_PCT": (40, 110),
            "FVC_PCT": (40, 110),
            "DLCO_PCT": (30, 100),
        }.get(key) or ANALYTE_RANGES[key]
        v = rng.uniform(lo, hi, N_ANALYSED)
        if col == "age_years":
            v = np.floor(v)
        if group == "blood_gas":  # about the paper's share without a blood gas
            v[rng.random(N_ANALYSED) < 0.25] = np.nan
        if group == "lung_function":
            v[rng.random(N_ANALYSED) < 0.40] = np.nan
        baseline[col] = v
    survival = pd.DataFrame(
        {
            "person_key": analysed,
            "analysis_group": groups,
            "time_days": rng.uniform(30, 2000, N_ANALYSED).round(),
            "event": rng.integers(0, 2, N_ANALYSED).astype("int32"),
        }
    )
    attrition = pd.DataFrame(PUBLISHED_ATTRITION, columns=["step", "n_remaining", "n_excluded"])
    attrition.insert(0, "step_order", range(1, len(attrition) + 1))
    analytes = list(ANALYTE_RANGES)
    lab_analyte = rng.choice(analytes, N_LABS)
    labs = pd.DataFrame(
        {
            "record_id": [f"L{i:06d}" for i in range(N_LABS)],
            "person_key": rng.choice(keys, N_LABS),
            "collected_at": pd.Timestamp("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 10**7, N_LABS), unit="s"),
            "analyte": lab_analyte,
            "value_status": "ok",
            "value_numeric": [rng.uniform(*ANALYTE_RANGES[a]) for a in lab_analyte],
        }
    )
    patients = pd.DataFrame(
        {
            "person_key": keys,
            "record_id": [f"P{i:04d}" for i in range(N_SCREENED)],
            "sex": rng.choice(["male", "female"], N_SCREENED),
            "birth_date": pd.to_datetime("1950-01-01").date(),
        }
    )

    def simple(prefix: str, n: int, date_col: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "record_id": [f"{prefix}{i:05d}" for i in range(n)],
                "person_key": rng.choice(keys, n),
                date_col: pd.to_datetime("2020-06-01").date(),
            }
        )

    findings = simple("F", 200, "finding_date").assign(finding_code="GOTTRON_SIGN")
    imaging = simple("I", 100, "study_date").assign(pattern_text="nsip", pattern_class="NSIP")
    pft = simple("T", 80, "test_date").assign(
        fev1_pct_pred=80.0, fvc_pct_pred=75.0, dlco_pct_pred=60.0
    )
    meds = simple("M", 100, "start_date").assign(atc_source="atc")
    meds["end_date"] = pd.to_datetime("2021-01-01").date()
    vital = simple("V", 100, "status_date").assign(death_date=None)
    recon = pd.DataFrame(
        {
            "drop_id": "2023-01-15",
            "table_name": ["patients", "lab_results", "clinical_findings"],
            "file": ["patients.csv", "lab_results.csv", "clinical_findings.csv"],
            "rows_manifest": [60, 2002, 200],
            "rows_read": [60, 2002, 200],
            "rows_loaded": [60, 2000, 200],
            "rows_duplicate": [0, 1, 0],
            "rows_quarantined": [0, 1, 0],
            "balanced": True,
        }
    )
    quarantine = pd.DataFrame(
        {
            "drop_id": ["2023-01-15"],
            "table_name": ["lab_results"],
            "file": ["lab_results.csv"],
            "line": [17],
            "record_id": ["L999999"],
            "reason": ["future_date"],
            "detail": ["collected_at 2099-01-01"],
        }
    )
    pattern_map = pd.DataFrame(
        {"raw_pattern": ["nsip", "op", "uip"], "pattern_class": ["NSIP", "OP", "other"]}
    )
    path = Path(path)
    con = duckdb.connect(str(path))
    try:
        for schema in ("marts", "staging", "seeds"):
            con.execute(f"create schema if not exists {schema}")
        for name, df in [
            ("marts.cohort", cohort),
            ("marts.baseline", baseline),
            ("marts.survival", survival),
            ("marts.attrition", attrition),
            ("staging.stg_ehr__lab_results", labs),
            ("staging.stg_ehr__patients", patients),
            ("staging.stg_ehr__clinical_findings", findings),
            ("staging.stg_ehr__imaging_reads", imaging),
            ("staging.stg_ehr__pulmonary_function_tests", pft),
            ("staging.stg_ehr__medications", meds),
            ("staging.stg_ehr__vital_statuses", vital),
            ("staging.stg_loader__reconciliation", recon),
            ("staging.stg_loader__quarantine", quarantine),
            ("seeds.hrct_pattern_map", pattern_map),
        ]:
            con.register("df_view", df)
            con.execute(f"create or replace table {name} as select * from df_view")
            con.unregister("df_view")
        con.execute("alter table staging.stg_ehr__vital_statuses alter death_date type date")
    finally:
        con.close()
    return path
