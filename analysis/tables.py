"""Table 1 (ADM characteristics) and Table 2 (ADM vs control within NSIP and within OP)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import AnalysisInputError, binary_column, numeric_column, require_columns

TABLE1_COLUMNS = ("ALL", "ADM-NSIP", "ADM-OP")
# (key in published_results.json table1, baseline column, label, section)
TABLE1_ITEMS: tuple[tuple[str, str, str, str], ...] = (
    ("heliotrope_rash", "heliotrope_rash", "Heliotrope rash", "skin"),
    ("gottron_sign", "gottron_sign", "Gottron's sign or papules", "skin"),
    ("minor_cutaneous", "minor_cutaneous", "Minor cutaneous manifestations", "skin"),
    ("mechanic_hands", "mechanic_hands", "  Mechanic's hands", "skin_minor"),
    ("v_sign", "v_sign", "  V sign", "skin_minor"),
    ("cutaneous_ulcers", "cutaneous_ulcer", "  Cutaneous ulcers", "skin_minor"),
    ("poikiloderma", "poikiloderma", "  Poikiloderma", "skin_minor"),
    ("holster_sign", "holster_sign", "  Holster sign", "skin_minor"),
    ("MDA5", "anti_mda5", "Anti-MDA5", "msa"),
    ("PL7", "anti_pl7", "Anti-PL-7", "msa"),
    ("JO1", "anti_jo1", "Anti-Jo-1", "msa"),
    ("PL12", "anti_pl12", "Anti-PL-12", "msa"),
    ("EJ", "anti_ej", "Anti-EJ", "msa"),
    ("MI2", "anti_mi2", "Anti-Mi-2", "msa"),
    ("SRP", "anti_srp", "Anti-SRP", "msa"),
    ("RO52", "anti_ro52", "Anti-Ro-52", "maa"),
    ("PMSCL75", "anti_pmscl75", "Anti-PM-Scl 75", "maa"),
    ("SSA", "anti_ssa", "Anti-SSA", "maa"),
    ("PMSCL100", "anti_pmscl100", "Anti-PM-Scl 100", "maa"),
    ("KU", "anti_ku", "Anti-Ku", "maa"),
    ("U1RNP", "anti_u1rnp", "Anti-U1-RNP", "maa"),
)
# Table 2 rows: (key in published_results.json table2.rows, baseline column, kind, label)
TABLE2_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("age_years", "age_years", "continuous", "Age, years"),
    ("sex_m_f", "male", "categorical", "Male sex"),
    ("smoking_n", "smoking_history", "categorical", "Smoking history"),
    ("systemic_symptoms_n", "systemic_symptoms", "categorical", "Systemic symptoms"),
    ("wbc_10e9_per_l", "wbc_10e9_per_l", "continuous", "WBC, 10^9/L"),
    ("lymphocyte_10e9_per_l", "lymphocyte_10e9_per_l", "continuous", "Lymphocytes, 10^9/L"),
    ("hb_g_per_l", "hb_g_per_l", "continuous", "Hb, g/L"),
    ("plt_10e9_per_l", "plt_10e9_per_l", "continuous", "PLT, 10^9/L"),
    ("hscrp_mg_per_l", "hscrp_mg_per_l", "continuous", "hsCRP, mg/L"),
    ("esr_mm_per_h", "esr_mm_per_h", "continuous", "ESR, mm/h"),
    ("alb_g_per_l", "alb_g_per_l", "continuous", "ALB, g/L"),
    ("alt_u_per_l", "alt_u_per_l", "continuous", "ALT, U/L"),
    ("ast_u_per_l", "ast_u_per_l", "continuous", "AST, U/L"),
    ("ck_u_per_l", "ck_u_per_l", "continuous", "CK, U/L"),
    ("ckmb_u_per_l", "ckmb_u_per_l", "continuous", "CK-MB, U/L"),
    ("ldh_u_per_l", "ldh_u_per_l", "continuous", "LDH, U/L"),
    ("b2mg_mg_per_l", "b2mg_mg_per_l", "continuous", "beta2-MG, mg/L"),
    ("ana_ge_1_80_n", "ana_positive", "categorical", "ANA >= 1:80"),
    ("pao2_mmhg", "pao2_mmhg", "continuous", "PaO2, mmHg"),
    ("oi_mmhg", "oi_mmhg", "continuous", "Oxygenation index, mmHg"),
    ("lactate_mmol_per_l", "lactate_mmol_per_l", "continuous", "Lactate, mmol/L"),
    ("fev1_pct_pred", "fev1_pct_pred", "continuous", "FEV1, % predicted"),
    ("fvc_pct_pred", "fvc_pct_pred", "continuous", "FVC, % predicted"),
    ("dlco_pct_pred", "dlco_pct_pred", "continuous", "DLco, % predicted"),
)
COMPARISONS = (("NSIP", "ADM-NSIP", "control-NSIP"), ("OP", "ADM-OP", "control-OP"))
WELCH = "Welch t-test"
MWU = "Mann-Whitney U (two-sided, scipy method='auto': exact for small samples without ties)"
CHI2 = "Pearson chi-square (no continuity correction)"
FISHER = "Fisher exact (two-sided)"


@dataclass(frozen=True)
class Table1Cell:
    column: str
    n: int
    count: int | None = None
    pct: float | None = None
    n_tested: int | None = None
    mean: float | None = None
    sd: float | None = None


@dataclass(frozen=True)
class Table1Row:
    key: str
    label: str
    section: str
    cells: tuple[Table1Cell, ...]


@dataclass(frozen=True)
class GroupSummary:
    """One group's side of a Table 2 row (continuous fields None for a categorical row)."""

    group: str
    n: int
    count: int | None = None
    pct: float | None = None
    mean: float | None = None
    sd: float | None = None
    median: float | None = None
    q1: float | None = None
    q3: float | None = None
    shapiro_p: float | None = None


@dataclass(frozen=True)
class Table2Row:
    key: str
    label: str
    comparison: str
    kind: str
    adm: GroupSummary
    control: GroupSummary
    test: str | None
    statistic: float | None
    p_value: float | None
    smd: float | None


def _f(x: float) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def _groups(df: pd.DataFrame, where: str) -> None:
    require_columns(df, ["analysis_group"], where)


def table1(baseline: pd.DataFrame) -> tuple[Table1Row, ...]:
    """Table 1: age, sex, skin findings and each MSA/MAA among ADM patients, by pattern.

    Parameters
    ----------
    baseline : pandas.DataFrame
        ``marts.baseline`` (one row per analysed patient).

    Returns
    -------
    tuple of Table1Row
        Rows ``n``, ``age_mean_sd``, ``male``, ``female``, then each item of TABLE1_ITEMS; the
        percentage denominator is the group size (as the paper), ``n_tested`` the non-missing.

    Notes
    -----
    Descriptive statistics only: mean and sample SD (ddof = 1), counts and percentages
    (tableone-style; Pollard et al. 2018, JAMIA Open 1:26-31).
    """
    where = "table1"
    _groups(baseline, where)
    require_columns(baseline, ["age_years", "male", *[c for _, c, _, _ in TABLE1_ITEMS]], where)
    adm = baseline[baseline["analysis_group"].isin(["ADM-NSIP", "ADM-OP"])]
    if adm.empty:
        raise AnalysisInputError(f"{where}: no ADM-NSIP or ADM-OP rows in analysis_group")
    parts = {
        "ALL": adm,
        "ADM-NSIP": adm[adm["analysis_group"] == "ADM-NSIP"],
        "ADM-OP": adm[adm["analysis_group"] == "ADM-OP"],
    }
    rows = [
        Table1Row(
            "n", "Patients", "n", tuple(Table1Cell(c, len(d), len(d)) for c, d in parts.items())
        )
    ]
    cells = []
    for c, d in parts.items():
        age = numeric_column(d, "age_years", where).dropna()
        cells.append(
            Table1Cell(
                c,
                len(d),
                n_tested=len(age),
                mean=_f(age.mean()),
                sd=_f(age.std(ddof=1)) if len(age) > 1 else None,
            )
        )
    rows.append(Table1Row("age_mean_sd", "Age, years, mean +/- SD", "age", tuple(cells)))

    def count_row(key: str, col: str, label: str, section: str, invert: bool = False) -> None:
        cs = []
        for c, d in parts.items():
            v = binary_column(d, col, where).dropna()
            k = int((v == 0).sum() if invert else (v == 1).sum())
            cs.append(Table1Cell(c, len(d), k, 100.0 * k / len(d) if len(d) else None, len(v)))
        rows.append(Table1Row(key, label, section, tuple(cs)))

    count_row("male", "male", "Male", "sex")
    count_row("female", "male", "Female", "sex", invert=True)
    for key, col, label, section in TABLE1_ITEMS:
        count_row(key, col, label, section)
    return tuple(rows)


def _continuous(a: pd.Series, b: pd.Series) -> tuple[str | None, float | None, float | None]:
    if len(a) == 0 or len(b) == 0:
        return None, None, None
    normal = True
    for x in (a, b):
        if len(x) < 3 or x.nunique() < 2:
            normal = False
            continue
        if stats.shapiro(x).pvalue < 0.05:
            normal = False
    if normal:
        r = stats.ttest_ind(a, b, equal_var=False)
        return WELCH, _f(r.statistic), _f(r.pvalue)
    r = stats.mannwhitneyu(a, b, alternative="two-sided")
    return MWU, _f(r.statistic), _f(r.pvalue)


def _categorical(
    ka: int, na: int, kb: int, nb: int
) -> tuple[str | None, float | None, float | None]:
    if na == 0 or nb == 0:
        return None, None, None
    t = np.array([[ka, na - ka], [kb, nb - kb]])
    rows, cols = t.sum(axis=1), t.sum(axis=0)
    expected = np.outer(rows, cols) / t.sum()
    if (expected >= 5).all():
        r = stats.chi2_contingency(t, correction=False)
        return CHI2, _f(r.statistic), _f(r.pvalue)
    r = stats.fisher_exact(t, alternative="two-sided")
    return FISHER, _f(r.statistic), _f(r.pvalue)


def _summary(group: str, x: pd.Series, kind: str) -> GroupSummary:
    if kind == "categorical":
        k = int((x == 1).sum())
        return GroupSummary(group, len(x), k, 100.0 * k / len(x) if len(x) else None)
    if len(x) == 0:
        return GroupSummary(group, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = _f(stats.shapiro(x).pvalue) if len(x) >= 3 and x.nunique() > 1 else None
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return GroupSummary(
        group,
        len(x),
        mean=_f(x.mean()),
        sd=_f(x.std(ddof=1)) if len(x) > 1 else None,
        median=_f(med),
        q1=_f(q1),
        q3=_f(q3),
        shapiro_p=sp,
    )


def _smd(a: GroupSummary, b: GroupSummary, kind: str) -> float | None:
    if kind == "categorical":
        if not a.n or not b.n:
            return None
        pa, pb = a.count / a.n, b.count / b.n
        pooled = np.sqrt((pa * (1 - pa) + pb * (1 - pb)) / 2)
        return _f((pa - pb) / pooled) if pooled > 0 else None
    if a.sd is None or b.sd is None:
        return None
    pooled = np.sqrt((a.sd**2 + b.sd**2) / 2)
    return _f((a.mean - b.mean) / pooled) if pooled > 0 else None


def table2(
    baseline: pd.DataFrame, rows: tuple[tuple[str, str, str, str], ...] = TABLE2_ROWS
) -> tuple[Table2Row, ...]:
    """Table 2: each ADM group against its control, within NSIP and within OP.

    Parameters
    ----------
    baseline : pandas.DataFrame
        ``marts.baseline``.
    rows : tuple
        (key, column, "continuous" | "categorical", label) per row (default: every Table 2 row
        of the paper).

    Returns
    -------
    tuple of Table2Row
        Two rows (NSIP, OP) per variable, in order, each naming the test that ran.

    Notes
    -----
    Continuous: Welch's unequal-variance t-test (Welch 1947) when both groups have n >= 3 and
    pass Shapiro-Wilk (Shapiro & Wilk 1965) at p >= 0.05, otherwise the two-sided
    Mann-Whitney U test (scipy ``method="auto"``: exact below 8 per group without ties, else
    the normal approximation with tie and continuity correction). Categorical (2x2): Pearson
    chi-square without continuity correction when every expected count is >= 5, otherwise
    Fisher's exact test (two-sided). Missing values are left out per variable. Standardised
    mean difference ADM - control over the pooled SD (Austin 2009, Stat Med 28:3083-3107;
    proportions: sqrt((p1 q1 + p2 q2) / 2)).
    """
    where = "table2"
    _groups(baseline, where)
    require_columns(baseline, [c for _, c, _, _ in rows], where)
    out: list[Table2Row] = []
    for key, col, kind, label in rows:
        conv = binary_column if kind == "categorical" else numeric_column
        values = conv(baseline, col, where)
        for comp, g_adm, g_ctl in COMPARISONS:
            a = values[baseline["analysis_group"] == g_adm].dropna()
            b = values[baseline["analysis_group"] == g_ctl].dropna()
            sa, sb = _summary(g_adm, a, kind), _summary(g_ctl, b, kind)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if kind == "categorical":
                    test, stat, p = _categorical(sa.count, sa.n, sb.count, sb.n)
                else:
                    test, stat, p = _continuous(a, b)
            out.append(Table2Row(key, label, comp, kind, sa, sb, test, stat, p, _smd(sa, sb, kind)))
    return tuple(out)
