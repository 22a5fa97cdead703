"""Seeded synthetic marts in the exact shape of `docs/architecture.md`, for tests and previews.

Not study data: values are drawn to roughly resemble the paper (ADM patients have higher LDH and
more ANA positivity; ADM-OP dies sooner), so the report has something realistic to show without
running the pipeline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

GROUP_SIZES = {"ADM-NSIP": 46, "control-NSIP": 92, "ADM-OP": 23, "control-OP": 29}
ATTRITION = (
    ("screened", 382, 0),
    ("pattern_not_nsip_op", 240, 142),
    ("iim_muscle_involvement", 221, 19),
    ("malignancy", 211, 10),
    ("multiple_ctd", 207, 4),
    ("prior_treatment", 192, 15),
    ("drug_induced", 190, 2),
)
CONTINUOUS = {  # column: (mean, sd, lower bound)
    "wbc_10e9_per_l": (7.0, 3.0, 1.0),
    "lymphocyte_10e9_per_l": (1.4, 0.6, 0.1),
    "hb_g_per_l": (124, 17, 60),
    "plt_10e9_per_l": (240, 80, 30),
    "hscrp_mg_per_l": (20, 30, 0.2),
    "esr_mm_per_h": (42, 33, 1),
    "alb_g_per_l": (36, 5, 20),
    "alt_u_per_l": (25, 20, 5),
    "ast_u_per_l": (30, 25, 8),
    "ck_u_per_l": (80, 60, 15),
    "ckmb_u_per_l": (12, 6, 2),
    "b2mg_mg_per_l": (2.8, 1.6, 0.5),
    "ferritin_ug_per_l": (400, 350, 10),
    "pao2_mmhg": (84, 20, 40),
    "oi_mmhg": (370, 85, 100),
    "lactate_mmol_per_l": (1.7, 0.8, 0.3),
    "fev1_pct_pred": (82, 19, 30),
    "fvc_pct_pred": (80, 18, 30),
    "dlco_pct_pred": (60, 18, 15),
}
FLAGS = (
    "anti_jo1",
    "anti_pl7",
    "anti_pl12",
    "anti_ej",
    "anti_mi2",
    "anti_srp",
    "anti_ro52",
    "anti_pmscl75",
    "anti_pmscl100",
    "anti_ssa",
    "anti_ku",
    "anti_u1rnp",
)
SKIN = (
    "heliotrope_rash",
    "gottron_sign",
    "mechanic_hands",
    "v_sign",
    "cutaneous_ulcer",
    "poikiloderma",
    "holster_sign",
)


def make_marts(seed: int = 12345) -> dict[str, pd.DataFrame]:
    """The four marts (`baseline`, `survival`, `cohort`, `attrition`) as DataFrames."""
    rng = np.random.default_rng(seed)
    rows = []
    i = 0
    for group, n in GROUP_SIZES.items():
        adm = group.startswith("ADM")
        pattern = group.split("-")[1]
        for _ in range(n):
            i += 1
            r: dict = {
                "person_key": f"{i:032x}",
                "analysis_group": group,
                "hrct_pattern": pattern,
                "is_adm": adm,
                "control_diagnosis": None
                if adm
                else ("COP" if pattern == "OP" else rng.choice(["RA", "pSS", "SSc", "IIP"])),
            }
            r["age_years"] = float(np.clip(np.round(rng.normal(58 if adm else 64, 13)), 20, 90))
            for col, (m, sd, lo) in CONTINUOUS.items():
                v = max(lo, rng.normal(m, sd))
                r[col] = round(float(v), 2) if rng.random() > 0.12 else None
            r["ldh_u_per_l"] = float(
                round(max(120, rng.lognormal(np.log(265 if adm else 205), 0.28)))
            )
            r["male"] = bool(rng.random() < (0.38 if adm else 0.45))
            r["smoking_history"] = bool(rng.random() < 0.25)
            r["systemic_symptoms"] = bool(rng.random() < 0.45)
            r["ana_positive"] = bool(rng.random() < (0.8 if adm else 0.5))
            r["anti_mda5"] = bool(rng.random() < (0.25 if adm else 0.02))
            for f in FLAGS:
                r[f] = None if rng.random() < 0.05 else bool(rng.random() < (0.12 if adm else 0.04))
            for s in SKIN:
                r[s] = bool(adm and rng.random() < 0.3)
            r["minor_cutaneous"] = any(r[s] for s in SKIN[2:])
            r["ldh_above_normal"] = r["ldh_u_per_l"] > 211
            hazard = 0.004 * np.exp(
                0.05 * (r["age_years"] - 60)
                + 1.2 * r["anti_mda5"]
                + 0.6 * r["smoking_history"]
                + (0.9 if group == "ADM-OP" else 0.0)
            )
            death = rng.exponential(1 / hazard) * 30.4375
            censor = rng.uniform(60, 72) * 30.4375
            r["time_days"] = float(np.ceil(min(death, censor)))
            r["event"] = int(death <= censor)
            rows.append(r)
    df = pd.DataFrame(rows)
    base_cols = (
        ["person_key", "analysis_group", "hrct_pattern", "is_adm", "control_diagnosis", "age_years"]
        + list(CONTINUOUS)
        + [
            "ldh_u_per_l",
            "male",
            "smoking_history",
            "systemic_symptoms",
            "ana_positive",
            "anti_mda5",
            *FLAGS,
            *SKIN,
            "minor_cutaneous",
            "ldh_above_normal",
        ]
    )
    baseline = df[base_cols].copy()
    survival = df[
        ["person_key", "analysis_group", "hrct_pattern", "is_adm", "time_days", "event"]
    ].copy()
    survival.insert(5, "time_months", survival["time_days"] / 30.4375)
    survival["event"] = survival["event"].astype("int32")
    cohort_rows = [
        (k, g, g.split("-")[1], "analysed")
        for k, g in zip(df["person_key"], df["analysis_group"], strict=True)
    ]
    j = len(df)
    for step, _, n_excl in ATTRITION[1:]:
        for _ in range(n_excl):
            j += 1
            cohort_rows.append(
                (f"{j:032x}", None, "other" if step == "pattern_not_nsip_op" else "NSIP", step)
            )
    cohort = pd.DataFrame(
        cohort_rows, columns=["person_key", "analysis_group", "hrct_pattern", "exit_reason"]
    )
    cohort.insert(1, "index_date", pd.Timestamp("2019-06-01").date())
    cohort["control_diagnosis"] = pd.Series([None] * len(cohort), dtype="string")
    cohort = cohort[
        [
            "person_key",
            "index_date",
            "hrct_pattern",
            "exit_reason",
            "analysis_group",
            "control_diagnosis",
        ]
    ]
    att = [(k + 1, s, n, e) for k, (s, n, e) in enumerate(ATTRITION)]
    att += [(len(att) + k + 1, g, n, 0) for k, (g, n) in enumerate(GROUP_SIZES.items())]
    attrition = pd.DataFrame(att, columns=["step_order", "step", "n_remaining", "n_excluded"])
    return {"baseline": baseline, "survival": survival, "cohort": cohort, "attrition": attrition}


def write_marts_db(path: Path, seed: int = 12345) -> Path:
    """Write the synthetic marts into schema `marts` of a new DuckDB file at `path`."""
    import duckdb

    marts = make_marts(seed)
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema if not exists marts")
        for name, frame in marts.items():
            con.register("_frame", frame)
            con.execute(f"create or replace table marts.{name} as select * from _frame")
            con.unregister("_frame")
        con.execute("alter table marts.attrition alter step_order type integer")
        con.execute("alter table marts.attrition alter n_remaining type integer")
        con.execute("alter table marts.attrition alter n_excluded type integer")
        con.execute("alter table marts.cohort alter index_date type date")
    finally:
        con.close()
    return path
