"""Cox regression against R's published coxph output on the Rossi data and statsmodels PHReg."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_rossi
from numpy.testing import assert_allclose
from statsmodels.duration.hazard_regression import PHReg

from analysis.cox import cox_fit

COVS = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


def test_rossi_matches_r_coxph():
    """Reference: R survival,
    ``coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = rossi)``
    (ties = "efron"): coef fin -0.3794, age -0.0574, prio 0.0915 (printed to 4 dp).
    """
    r = cox_fit(load_rossi(), "week", "arrest", COVS)
    assert (r.n, r.events, r.ties) == (432, 114, "efron")
    assert_allclose(
        [r.term("fin").coef, r.term("age").coef, r.term("prio").coef],
        [-0.3794, -0.0574, 0.0915],
        atol=6e-5,
    )
    assert_allclose(r.term("fin").hr, np.exp(-0.3794), rtol=1e-3)


def test_rossi_matches_statsmodels_phreg_efron():
    """Reference: statsmodels PHReg(ties='efron'): coef, SE, Wald p, CI; tolerance 1e-4."""
    rossi = load_rossi()
    ref = PHReg(rossi["week"], rossi[COVS], status=rossi["arrest"], ties="efron").fit()
    r = cox_fit(rossi, "week", "arrest", COVS)
    assert_allclose([r.term(c).coef for c in COVS], ref.params, rtol=1e-4)
    assert_allclose([r.term(c).se for c in COVS], ref.bse, rtol=1e-4)
    assert_allclose([r.term(c).p_value for c in COVS], ref.pvalues, rtol=1e-3)
    ci = np.exp(ref.conf_int())
    assert_allclose([r.term(c).hr_ci for c in COVS], ci, rtol=1e-4)
    assert [p.name for p in r.ph_test] == sorted(COVS)
    assert 0.6 < r.concordance < 0.7  # R reports 0.64


def small_cohort(n: int = 69, seed: int = 12345) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(58, 13, n)
    mda5 = rng.random(n) < 0.25
    t = rng.exponential(60 / np.exp(0.05 * (age - 58) + 1.0 * mda5))
    c = rng.uniform(10, 72, n)
    return pd.DataFrame(
        {
            "time": np.minimum(t, c),
            "event": (t <= c).astype(int),
            "age": age,
            "mda5": mda5,
            "wbc": rng.normal(7, 3, n),
        }
    )


def test_complete_cases_and_epv_warning():
    """Reference: statsmodels PHReg on the complete cases only."""
    df = small_cohort()
    df.loc[df.index[:9], "wbc"] = np.nan
    r = cox_fit(df, "time", "event", ["age", "mda5", "wbc"])
    cc = df.dropna()
    ref = PHReg(
        cc["time"], cc[["age", "mda5", "wbc"]].astype(float), status=cc["event"], ties="efron"
    ).fit()
    assert (r.n, r.events, r.n_excluded_incomplete) == (60, int(cc.event.sum()), 9)
    assert_allclose([t.coef for t in r.terms], ref.params, rtol=1e-4)
    assert any("9 row(s) with a missing value" in w for w in r.warnings)
    if r.events / 3 < 10:
        assert any("events per variable" in w for w in r.warnings)


def test_constant_and_collinear_covariates_are_warned_not_raised():
    df = small_cohort().assign(const=1.0)
    df["age_months"] = df["age"] * 12
    r = cox_fit(df, "time", "event", ["age", "const", "age_months", "mda5"])
    assert [t.name for t in r.terms] == ["age", "mda5"]
    assert any("const is constant" in w for w in r.warnings)
    assert any("age_months is collinear" in w for w in r.warnings)


def test_no_events_gives_warning_and_no_terms():
    r = cox_fit(small_cohort().assign(event=0), "time", "event", ["age"])
    assert r.terms == () and r.converged is False
    assert "no events" in r.warnings[-1]
    assert r.to_json()["covariates"] == []


def test_perfect_separation_reports_non_convergence():
    df = small_cohort()
    df["marker"] = df["event"].astype(float)  # all deaths marked: HR diverges
    r = cox_fit(df, "time", "event", ["marker"])
    assert r.converged is False
    assert any("convergence" in w for w in r.warnings)
    assert r.to_json()["covariates"][0]["hr_ci"][1] is None  # inf -> null in JSON


@pytest.mark.parametrize("bad,match", [("nope", "unknown column")])
def test_cox_input_errors(bad, match):
    from analysis.errors import AnalysisInputError

    with pytest.raises(AnalysisInputError, match=match):
        cox_fit(small_cohort(), "time", "event", [bad])
