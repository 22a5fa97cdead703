"""Table 1 / Table 2 statistics against scipy called directly on the same numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from analysis.synthetic_marts import make_marts
from analysis.tables import CHI2, FISHER, MWU, WELCH, table1, table2


def two_groups(a, b, column="x", kind_value=None) -> pd.DataFrame:
    rows = [("ADM-NSIP", v) for v in a] + [("control-NSIP", v) for v in b]
    rows += [("ADM-OP", v) for v in a[:3]] + [("control-OP", v) for v in b[:3]]
    return pd.DataFrame(rows, columns=["analysis_group", column])


ROW_CONT = (("x", "x", "continuous", "X"),)
ROW_CAT = (("x", "x", "categorical", "X"),)


def test_normal_groups_use_welch_t():
    """Reference: scipy.stats.ttest_ind(equal_var=False); Shapiro p >= 0.05 in both groups."""
    rng = np.random.default_rng(12345)
    a, b = rng.normal(58, 12, 46), rng.normal(65, 14, 92)
    assert stats.shapiro(a).pvalue >= 0.05 and stats.shapiro(b).pvalue >= 0.05
    r = table2(two_groups(a, b), ROW_CONT)[0]
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert r.test == WELCH
    assert_allclose([r.statistic, r.p_value], [ref.statistic, ref.pvalue], rtol=1e-12)
    assert_allclose(
        [r.adm.mean, r.adm.sd, r.adm.median], [a.mean(), a.std(ddof=1), np.median(a)], rtol=1e-12
    )
    assert r.adm.n == 46 and r.control.n == 92
    assert_allclose(r.smd, (a.mean() - b.mean()) / np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2))


def test_skewed_group_uses_mann_whitney():
    """Reference: scipy.stats.mannwhitneyu(alternative='two-sided'), default method."""
    rng = np.random.default_rng(12345)
    a, b = rng.lognormal(5.6, 0.6, 46), rng.normal(207, 56, 92)
    assert stats.shapiro(a).pvalue < 0.05
    r = table2(two_groups(a, b), ROW_CONT)[0]
    ref = stats.mannwhitneyu(a, b, alternative="two-sided")
    assert r.test == MWU
    assert_allclose([r.statistic, r.p_value], [ref.statistic, ref.pvalue], rtol=1e-12)


def test_fewer_than_three_values_uses_mann_whitney_and_missing_are_left_out():
    a = np.array([1.0, 2.0, np.nan, np.nan])
    b = np.array([3.0, 4.0, 5.0, 6.0, np.nan])
    r = table2(two_groups(a, b), ROW_CONT)[0]
    ref = stats.mannwhitneyu([1.0, 2.0], [3.0, 4.0, 5.0, 6.0], alternative="two-sided")
    assert r.test == MWU and r.adm.n == 2 and r.control.n == 4
    assert_allclose(r.p_value, ref.pvalue)


def test_large_expected_counts_use_chi_square_without_correction():
    """Reference: scipy.stats.chi2_contingency(correction=False) on the 2x2 table."""
    a = np.r_[np.ones(19), np.zeros(27)]
    b = np.r_[np.ones(28), np.zeros(64)]
    r = table2(two_groups(a, b), ROW_CAT)[0]
    ref = stats.chi2_contingency([[19, 27], [28, 64]], correction=False)
    assert r.test == CHI2
    assert (r.adm.count, r.adm.n, r.control.count) == (19, 46, 28)
    assert_allclose([r.statistic, r.p_value], [ref.statistic, ref.pvalue], rtol=1e-12)


def test_small_expected_count_uses_fisher():
    """Reference: scipy.stats.fisher_exact on [[4, 19], [1, 28]] (an expected count < 5)."""
    a = np.r_[np.ones(4), np.zeros(19)]
    b = np.r_[np.ones(1), np.zeros(28)]
    r = table2(two_groups(a, b), ROW_CAT)[0]
    ref = stats.fisher_exact([[4, 19], [1, 28]])
    assert r.test == FISHER
    assert_allclose(r.p_value, ref.pvalue, rtol=1e-12)


def test_table2_covers_every_published_row_in_both_patterns():
    import json

    from ildwh.config import PUBLISHED_RESULTS

    pub = json.loads(PUBLISHED_RESULTS.read_text())["table2"]["rows"]
    rows = table2(make_marts()["baseline"])
    assert sorted({r.key for r in rows}) == sorted(pub)
    assert len(rows) == 2 * len(pub)
    assert all(r.test in (WELCH, MWU, CHI2, FISHER) for r in rows)


def test_table1_counts_and_age():
    base = make_marts()["baseline"]
    rows = {r.key: r for r in table1(base)}
    adm = base[base.is_adm]
    nsip = adm[adm.analysis_group == "ADM-NSIP"]
    assert [c.count for c in rows["n"].cells] == [69, 46, 23]
    assert_allclose(rows["age_mean_sd"].cells[0].mean, adm.age_years.mean())
    assert_allclose(rows["age_mean_sd"].cells[1].sd, nsip.age_years.std(ddof=1))
    assert rows["MDA5"].cells[1].count == int(nsip.anti_mda5.fillna(False).sum())
    m, f = rows["male"].cells[0].count, rows["female"].cells[0].count
    assert m + f == 69 and m == int(adm.male.sum())
    assert rows["heliotrope_rash"].cells[2].pct == pytest.approx(
        100 * adm[adm.analysis_group == "ADM-OP"].heliotrope_rash.sum() / 23
    )
