"""Kaplan-Meier, log-log CIs, log-rank and reverse-KM follow-up against scikit-survival."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sksurv.compare import compare_survival
from sksurv.nonparametric import kaplan_meier_estimator
from sksurv.util import Surv

from analysis.errors import AnalysisInputError
from analysis.survival import kaplan_meier, median_follow_up


def cohort(seed: int = 12345) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for group, n, rate in (("ADM-OP", 23, 0.03), ("control-OP", 29, 0.008)):
        death = rng.exponential(1 / rate, n)
        censor = rng.uniform(20, 72, n)
        t = np.round(np.minimum(death, censor), 1)  # rounding creates tied times
        rows.append(pd.DataFrame({"t": t, "e": (death <= censor).astype(int), "g": group}))
    return pd.concat(rows, ignore_index=True)


def sksurv_at(t: np.ndarray, e: np.ndarray, times) -> tuple[np.ndarray, np.ndarray]:
    """S(t) and its log-log CI from scikit-survival, read as a right-continuous step function."""
    x, s, ci = kaplan_meier_estimator(e.astype(bool), t, conf_type="log-log")
    idx = [np.searchsorted(x, tt, side="right") - 1 for tt in times]
    return s[idx], ci[:, idx].T


def test_km_estimate_and_log_log_ci_match_scikit_survival():
    """Reference: sksurv kaplan_meier_estimator(conf_type='log-log'), tolerance 1e-8
    (R equivalent: summary(survfit(Surv(t, e) ~ g, conf.type = 'log-log'), times = ...))."""
    df = cohort()
    times = (6.0, 12.0, 24.0, 36.0)
    km = kaplan_meier(df, "t", "e", "g", times=times)
    for g in km.groups:
        sub = df[df.g == g.group]
        s_ref, ci_ref = sksurv_at(sub.t.to_numpy(), sub.e.to_numpy(), times)
        assert_allclose([s.estimate for s in g.survival], s_ref, rtol=1e-10)
        assert_allclose([s.ci for s in g.survival], ci_ref, rtol=1e-8)
        assert [s.at_risk for s in g.survival] == [int((sub.t >= tt).sum()) for tt in times]
        assert g.n == len(sub) and g.events == int(sub.e.sum())


def test_logrank_matches_scikit_survival_compare_survival():
    """Reference: sksurv compare_survival (R survdiff), tolerance 1e-8."""
    df = cohort()
    km = kaplan_meier(df, "t", "e", "g")
    chi2, p = compare_survival(Surv.from_arrays(df.e.astype(bool), df.t), df.g.to_numpy())
    assert km.logrank.df == 1
    assert_allclose([km.logrank.chi2, km.logrank.p_value], [chi2, p], rtol=1e-8)
    assert km.to_json()["logrank"]["p_value"] == pytest.approx(p, rel=1e-8)


def test_one_group_has_no_logrank_and_past_follow_up_is_null():
    df = cohort()
    km = kaplan_meier(df, "t", "e", times=(12.0, 1000.0))
    j = km.to_json()
    assert j["logrank"] is None
    assert j["groups"][0]["survival"][1] == {
        "time": 1000.0,
        "estimate": None,
        "ci": [None, None],
        "at_risk": 0,
    }


def test_median_survival_matches_scikit_survival():
    """Reference: first time the sksurv KM curve reaches <= 0.5."""
    df = cohort()
    sub = df[df.g == "ADM-OP"]
    km = kaplan_meier(sub, "t", "e")
    x, s = kaplan_meier_estimator(sub.e.astype(bool), sub.t)
    assert_allclose(km.groups[0].median, x[np.argmax(s <= 0.5)])


def test_reverse_km_median_follow_up_matches_scikit_survival():
    """Reference: sksurv KM of the flipped indicator (censoring as event), untied times."""
    rng = np.random.default_rng(12345)
    t = rng.uniform(1, 70, 69)
    e = (rng.random(69) < 0.25).astype(int)
    fu = median_follow_up(pd.DataFrame({"t": t, "e": e}), "t", "e")
    x, s = kaplan_meier_estimator((1 - e).astype(bool), t)
    assert_allclose(fu.median, x[np.argmax(s <= 0.5)])


def test_survival_input_errors():
    df = cohort()
    with pytest.raises(AnalysisInputError, match="negative time"):
        kaplan_meier(df.assign(t=df.t - 100), "t", "e")
    with pytest.raises(AnalysisInputError, match="must be binary"):
        kaplan_meier(df.assign(e=df.e + 1), "t", "e")
    with pytest.raises(AnalysisInputError, match="unknown column"):
        kaplan_meier(df, "t", "e", "nope")
