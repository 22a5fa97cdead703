"""Cox proportional hazards: univariate screens and a multivariate model, with diagnostics."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from lifelines.statistics import proportional_hazard_test

from analysis.errors import nan_to_none, numeric_column, require_columns, time_event

# Protocol section 8: univariate covariates (column in the analysis frame, label).
PROTOCOL_UNIVARIATE: tuple[tuple[str, str], ...] = (
    ("age_years", "Age (per year)"),
    ("male", "Male sex"),
    ("smoking_history", "Smoking history"),
    ("wbc_10e9_per_l", "WBC (per 10^9/L)"),
    ("lymphocyte_10e9_per_l", "Lymphocytes (per 10^9/L)"),
    ("ldh_u_per_l", "LDH (per U/L)"),
    ("ck_u_per_l", "CK (per U/L)"),
    ("ferritin_ug_per_l", "Ferritin (per ug/L)"),
    ("dlco_pct_pred", "DLco (per % predicted)"),
    ("oi_mmhg", "Oxygenation index (per mmHg)"),
    ("anti_mda5", "Anti-MDA5 positive"),
    ("ana_positive", "ANA >= 1:80"),
    ("pattern_op", "Pattern OP vs NSIP"),
)
DEFAULT_MULTIVARIATE: tuple[str, ...] = (
    "age_years",
    "smoking_history",
    "anti_mda5",
    "wbc_10e9_per_l",
)
COX_METHOD = (
    "Cox proportional hazards (lifelines CoxPHFitter, Efron ties), Wald CI and p; complete cases"
)
PH_METHOD = "Schoenfeld residual test, rank time transform (Grambsch & Therneau 1994)"


@dataclass(frozen=True)
class CoxTerm:
    name: str
    coef: float
    se: float
    hr: float
    hr_ci: tuple[float, float]
    p_value: float


@dataclass(frozen=True)
class PhTest:
    name: str
    statistic: float
    p_value: float


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model (or the reason it could not be fitted, in `warnings`)."""

    n: int
    events: int
    n_excluded_incomplete: int
    covariates_requested: tuple[str, ...]
    terms: tuple[CoxTerm, ...]
    concordance: float | None
    ph_test: tuple[PhTest, ...]
    warnings: tuple[str, ...]
    converged: bool
    ties: str = "efron"
    method: str = COX_METHOD
    ph_method: str = PH_METHOD

    def term(self, name: str) -> CoxTerm | None:
        return next((t for t in self.terms if t.name == name), None)

    def to_json(self) -> dict:
        """The `ildwh stats cox --json` object (NaN as null)."""
        return {
            "n": self.n,
            "events": self.events,
            "ties": self.ties,
            "covariates": [
                {
                    "name": t.name,
                    "coef": nan_to_none(t.coef),
                    "se": nan_to_none(t.se),
                    "hr": nan_to_none(t.hr),
                    "hr_ci": [nan_to_none(t.hr_ci[0]), nan_to_none(t.hr_ci[1])],
                    "p_value": nan_to_none(t.p_value),
                }
                for t in self.terms
            ],
            "concordance": nan_to_none(self.concordance),
            "ph_test": [{"name": p.name, "p_value": nan_to_none(p.p_value)} for p in self.ph_test],
            "warnings": list(self.warnings),
        }


def _drop_degenerate(x: pd.DataFrame, notes: list[str]) -> list[str]:
    keep = []
    for c in x.columns:
        if x[c].nunique() < 2:
            notes.append(f"covariate {c} is constant among the complete cases; left out")
        else:
            keep.append(c)
    # collinearity: add columns one at a time, leave out any that does not raise the rank
    kept: list[str] = []
    for c in keep:
        m = x[kept + [c]].to_numpy(float)
        m = np.column_stack([np.ones(len(m)), m - m.mean(axis=0)])
        if np.linalg.matrix_rank(m) < len(kept) + 2:
            notes.append(f"covariate {c} is collinear with {', '.join(kept)}; left out")
        else:
            kept.append(c)
    return kept


def cox_fit(
    df: pd.DataFrame,
    time: str,
    event: str,
    covariates: list[str] | tuple[str, ...],
    level: float = 0.95,
) -> CoxResult:
    """Fit a Cox proportional hazards model on the complete cases.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per subject.
    time, event : str
        Follow-up time (>= 0) and event (1 = died, 0 = censored) columns.
    covariates : sequence of str
        Numeric or boolean columns (booleans enter as 0/1).
    level : float
        Confidence level of the hazard-ratio CIs.

    Returns
    -------
    CoxResult
        Problems with the data (no events, events per variable < 10, a constant or collinear
        covariate, non-convergence) are reported in ``warnings``, never raised; only input that
        cannot be read (unknown column, text, negative time, non-binary event) raises
        :class:`analysis.errors.AnalysisInputError`.

    Notes
    -----
    Partial likelihood with Efron's tie correction (Cox 1972; Efron 1977) from lifelines
    ``CoxPHFitter`` (no penaliser); Wald CIs and p values. Proportional hazards checked per
    covariate with the scaled Schoenfeld residual test, rank time transform (Grambsch &
    Therneau 1994, Biometrika 81:515-526; R ``cox.zph(..., transform = "rank")``). Harrell's
    concordance index.
    """
    where = "cox"
    covariates = list(dict.fromkeys(covariates))
    if not covariates:
        from analysis.errors import AnalysisInputError

        raise AnalysisInputError(f"{where}: give at least one covariate")
    require_columns(df, [time, event, *covariates], where)
    te = time_event(df, time, event, where)
    x = pd.DataFrame({c: numeric_column(df, c, where) for c in covariates}, index=df.index)
    data = pd.concat([te, x.loc[te.index]], axis=1)
    complete = data.dropna()
    notes: list[str] = []
    n_excl = len(df) - len(complete)
    n, events = len(complete), int(complete["event"].sum()) if len(complete) else 0

    def empty(converged: bool = False) -> CoxResult:
        return CoxResult(
            n, events, n_excl, tuple(covariates), (), None, (), tuple(notes), converged
        )

    if n_excl:
        notes.append(f"{n_excl} row(s) with a missing value left out (complete cases)")
    if n == 0 or events == 0:
        notes.append("no events among the complete cases: model not fitted")
        return empty()
    kept = _drop_degenerate(complete[covariates], notes)
    if not kept:
        notes.append("no usable covariate: model not fitted")
        return empty()
    if events / len(kept) < 10:
        notes.append(
            f"events per variable {events / len(kept):.1f} < 10: estimates may be "
            "biased and CIs too narrow"
        )
    cph = CoxPHFitter(alpha=1 - level)
    fit_df = complete[["time", "event", *kept]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cph.fit(fit_df, duration_col="time", event_col="event", formula=None)
        except (ConvergenceError, np.linalg.LinAlgError, ValueError) as exc:
            notes.append(f"model did not converge: {str(exc).splitlines()[0]}")
            return empty()
    converged = True
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            converged = False
            notes.append(f"convergence warning: {str(w.message).splitlines()[0]}")
    s = cph.summary
    lo_col = [c for c in s.columns if c.startswith("exp(coef) lower")][0]
    hi_col = [c for c in s.columns if c.startswith("exp(coef) upper")][0]
    terms = tuple(
        CoxTerm(
            c,
            float(s.loc[c, "coef"]),
            float(s.loc[c, "se(coef)"]),
            float(s.loc[c, "exp(coef)"]),
            (float(s.loc[c, lo_col]), float(s.loc[c, hi_col])),
            float(s.loc[c, "p"]),
        )
        for c in kept
    )
    ph: tuple[PhTest, ...] = ()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pht = proportional_hazard_test(cph, fit_df, time_transform="rank").summary
        ph = tuple(
            PhTest(str(c), float(pht.loc[c, "test_statistic"]), float(pht.loc[c, "p"]))
            for c in pht.index
        )
        for p in ph:
            if p.p_value < 0.05:
                notes.append(
                    f"proportional hazards doubtful for {p.name} (Schoenfeld p = {p.p_value:.3f})"
                )
    except Exception as exc:  # diagnostics must never stop the model from being reported
        notes.append(f"proportional-hazards test failed: {exc}")
    return CoxResult(
        n,
        events,
        n_excl,
        tuple(covariates),
        terms,
        float(cph.concordance_index_),
        ph,
        tuple(notes),
        converged,
    )


def cox_univariate(
    df: pd.DataFrame, time: str, event: str, covariates: list[str] | tuple[str, ...]
) -> dict[str, CoxResult]:
    """One single-covariate Cox model per covariate (see :func:`cox_fit`).

    Notes
    -----
    Each model uses the complete cases for its own covariate (Efron ties, Wald p), as in a
    univariate screen (Hosmer, Lemeshow & May 2008, Applied Survival Analysis, ch. 5).
    """
    return {c: cox_fit(df, time, event, [c]) for c in covariates}
