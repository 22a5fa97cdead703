"""ROC statistics against independent references (scikit-learn, statsmodels, a published example,
and a brute-force O(n^2) placement-value DeLong written here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import roc_auc_score
from statsmodels.stats.proportion import proportion_confint

from analysis.errors import AnalysisInputError
from analysis.roc import delong_auc, roc_analysis, wilson_ci

# Hanley & McNeil (1982), Radiology 143:29-36, Table 1: CT ratings 1 (definitely normal) to
# 5 (definitely abnormal) of 58 normal and 51 abnormal patients. Published AUC 0.893, SE 0.032.
HM_NORMAL = [33, 6, 6, 11, 2]
HM_ABNORMAL = [3, 2, 2, 11, 33]


def hanley_mcneil_frame() -> pd.DataFrame:
    score = np.concatenate(
        [np.repeat(np.arange(1, 6), HM_NORMAL), np.repeat(np.arange(1, 6), HM_ABNORMAL)]
    )
    label = np.concatenate([np.zeros(58), np.ones(51)])
    return pd.DataFrame({"rating": score, "abnormal": label})


def brute_force_delong(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """DeLong et al. (1988) structural components by direct O(m*n) comparison."""
    psi = (pos[:, None] > neg[None, :]).astype(float) + 0.5 * (pos[:, None] == neg[None, :])
    v10 = psi.mean(axis=1)
    v01 = psi.mean(axis=0)
    auc = psi.mean()
    var = v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)
    return auc, var


def synthetic(n_pos: int = 69, n_neg: int = 121, shift: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(12345)
    pos = np.round(rng.normal(shift, 1.0, n_pos), 1)  # rounding makes ties
    neg = np.round(rng.normal(0.0, 1.0, n_neg), 1)
    return pd.DataFrame(
        {
            "score": np.concatenate([pos, neg]),
            "label": np.r_[np.ones(n_pos), np.zeros(n_neg)].astype(int),
        }
    )


def test_auc_matches_published_hanley_mcneil_example():
    """Reference: Hanley & McNeil 1982 AUC 0.893 (printed to 3 dp) and SE 0.032 (their
    exponential approximation, so tolerance 0.004 on the SE); AUC also vs scikit-learn."""
    df = hanley_mcneil_frame()
    r = roc_analysis(df, "rating", "abnormal")
    assert r.direction == "higher"
    assert_allclose(r.auc, 0.893, atol=5e-4)
    assert_allclose(r.auc, roc_auc_score(df["abnormal"], df["rating"]), rtol=1e-12)
    assert_allclose(r.auc_se, 0.032, atol=0.004)


@pytest.mark.parametrize("shift", [0.0, 0.5, 1.5])
def test_delong_variance_equals_brute_force_placement_values(shift):
    """Reference: brute-force DeLong placement values (this file), tolerance 1e-12."""
    df = synthetic(shift=shift)
    pos = df.loc[df.label == 1, "score"].to_numpy()
    neg = df.loc[df.label == 0, "score"].to_numpy()
    auc, var = delong_auc(pos, neg)
    ref_auc, ref_var = brute_force_delong(pos, neg)
    assert_allclose([auc, var], [ref_auc, ref_var], rtol=1e-12)
    r = roc_analysis(df, "score", "label", direction="higher")
    assert_allclose(r.auc, roc_auc_score(df.label, df.score), rtol=1e-12)
    z = 1.959963984540054
    assert_allclose(
        r.auc_ci, (ref_auc - z * np.sqrt(ref_var), ref_auc + z * np.sqrt(ref_var)), rtol=1e-9
    )


def test_direction_auto_flips_when_positives_score_lower():
    """Reference: scikit-learn AUC of the negated score (pROC's direction '>')."""
    df = synthetic(shift=-1.0)
    r = roc_analysis(df, "score", "label")
    assert r.direction == "lower"
    assert_allclose(r.auc, roc_auc_score(df.label, -df.score), rtol=1e-12)
    assert r.auc > 0.5
    # a lower score is positive: the cutoff classifies score < cutoff as positive
    pos = df.loc[df.label == 1, "score"]
    assert r.sensitivity.k == int((pos < r.cutoff).sum())


def test_youden_cutoff_is_the_best_midpoint_by_exhaustive_search():
    """Reference: exhaustive search over every midpoint between adjacent distinct values."""
    df = synthetic()
    r = roc_analysis(df, "score", "label", direction="higher")
    v = np.unique(df.score)
    mids = (v[:-1] + v[1:]) / 2
    pos, neg = df.score[df.label == 1].to_numpy(), df.score[df.label == 0].to_numpy()
    j = [(pos > c).mean() + (neg <= c).mean() - 1 for c in mids]
    assert_allclose(r.cutoff, mids[int(np.argmax(j))])
    assert r.cutoff not in set(v)  # a midpoint, never an observed value (SPSS)
    tp, fp = int((pos > r.cutoff).sum()), int((neg > r.cutoff).sum())
    assert (r.sensitivity.k, r.sensitivity.n) == (tp, len(pos))
    assert (r.ppv.k, r.ppv.n) == (tp, tp + fp)
    assert (r.npv.k, r.npv.n) == (len(neg) - fp, len(neg) - fp + len(pos) - tp)


def test_binary_score_ana():
    """Reference: for a 0/1 score, AUC = (sens + spec) / 2 (scikit-learn), cutoff 0.5."""
    rng = np.random.default_rng(12345)
    y = np.r_[np.ones(69), np.zeros(121)].astype(int)
    ana = np.where(y == 1, rng.random(190) < 0.8, rng.random(190) < 0.5).astype(bool)
    r = roc_analysis(pd.DataFrame({"ana": ana, "y": y}), "ana", "y")
    assert r.cutoff == 0.5
    assert_allclose(r.auc, roc_auc_score(y, ana.astype(int)), rtol=1e-12)
    assert_allclose(r.auc, (r.sensitivity.estimate + r.specificity.estimate) / 2, rtol=1e-12)
    assert r.sensitivity.k == int(ana[y == 1].sum())


@pytest.mark.parametrize("k,n", [(0, 10), (1, 10), (51, 69), (100, 121), (56, 93), (20, 20)])
def test_wilson_ci_matches_statsmodels(k, n):
    """Reference: statsmodels proportion_confint(method='wilson'), tolerance 1e-10."""
    p = wilson_ci(k, n)
    assert_allclose(p.ci, proportion_confint(k, n, alpha=0.05, method="wilson"), atol=1e-10)
    assert_allclose(p.estimate, k / n)


def test_roc_input_errors_name_the_problem():
    df = synthetic()
    with pytest.raises(AnalysisInputError, match="unknown column"):
        roc_analysis(df, "nope", "label")
    with pytest.raises(AnalysisInputError, match="must be binary"):
        roc_analysis(df.assign(label=df.label * 2), "score", "label")
    with pytest.raises(AnalysisInputError, match="needs both classes"):
        roc_analysis(df[df.label == 1], "score", "label")
