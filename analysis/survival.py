"""Kaplan-Meier survival with log-log CIs, numbers at risk, log-rank test, reverse-KM follow-up."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from analysis.errors import AnalysisInputError, nan_to_none, require_columns, time_event

KM_CI_METHOD = "log-log (Kalbfleisch-Prentice 'exponential' Greenwood) 95% CI"
LOGRANK_METHOD = "log-rank (Mantel-Cox) chi-square"
DEFAULT_TIMES = (12.0, 36.0, 60.0)


@dataclass(frozen=True)
class SurvivalAt:
    """S(t) with its CI and the number at risk at t (alive and uncensored just before t)."""

    time: float
    estimate: float | None
    ci: tuple[float | None, float | None]
    at_risk: int


@dataclass(frozen=True)
class KmGroup:
    """The Kaplan-Meier estimate of one group."""

    group: str
    n: int
    events: int
    median: float | None
    median_ci_note: str
    survival: tuple[SurvivalAt, ...]
    timeline: tuple[float, ...]
    estimate: tuple[float, ...]
    ci_lower: tuple[float, ...]
    ci_upper: tuple[float, ...]
    durations: tuple[float, ...]


@dataclass(frozen=True)
class LogrankResult:
    chi2: float
    df: int
    p_value: float
    method: str = LOGRANK_METHOD


@dataclass(frozen=True)
class KmResult:
    """Kaplan-Meier estimates by group and the log-rank test between them (None for one group)."""

    groups: tuple[KmGroup, ...]
    logrank: LogrankResult | None
    times: tuple[float, ...]
    n: int
    ci_method: str = KM_CI_METHOD

    def to_json(self) -> dict:
        """The `ildwh stats km --json` object (NaN as null)."""
        return {
            "groups": [
                {
                    "group": g.group,
                    "n": g.n,
                    "events": g.events,
                    "median": nan_to_none(g.median),
                    "survival": [
                        {
                            "time": s.time,
                            "estimate": nan_to_none(s.estimate),
                            "ci": [nan_to_none(s.ci[0]), nan_to_none(s.ci[1])],
                            "at_risk": s.at_risk,
                        }
                        for s in g.survival
                    ],
                }
                for g in self.groups
            ],
            "logrank": None
            if self.logrank is None
            else {
                "chi2": nan_to_none(self.logrank.chi2),
                "df": self.logrank.df,
                "p_value": nan_to_none(self.logrank.p_value),
            },
        }

    def group(self, name: str) -> KmGroup:
        for g in self.groups:
            if g.group == name:
                return g
        raise KeyError(name)


def _fit_group(
    name: str, t: np.ndarray, e: np.ndarray, times: tuple[float, ...], level: float
) -> KmGroup:
    kmf = KaplanMeierFitter(alpha=1 - level)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kmf.fit(t, e, label=name)
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_survival_function_
    lo, hi = ci.iloc[:, 0], ci.iloc[:, 1]
    tmax = float(t.max())
    rows = []
    for tt in times:
        at_risk = int((t >= tt).sum())
        if tt > tmax:
            rows.append(SurvivalAt(float(tt), None, (None, None), at_risk))
            continue
        idx = sf.index[sf.index <= tt][-1]
        est = float(sf.loc[idx])
        ci = (nan_to_none(float(lo.loc[idx])), nan_to_none(float(hi.loc[idx])))
        rows.append(SurvivalAt(float(tt), est, ci, at_risk))
    med = float(kmf.median_survival_time_)
    return KmGroup(
        group=name,
        n=len(t),
        events=int(e.sum()),
        median=med if np.isfinite(med) else None,
        median_ci_note="smallest time with S(t) <= 0.5; None when not reached",
        survival=tuple(rows),
        timeline=tuple(map(float, sf.index)),
        estimate=tuple(map(float, sf.to_numpy())),
        ci_lower=tuple(map(float, lo.to_numpy())),
        ci_upper=tuple(map(float, hi.to_numpy())),
        durations=tuple(map(float, np.sort(t))),
    )


def kaplan_meier(
    df: pd.DataFrame,
    time: str,
    event: str,
    group: str | None = None,
    times: tuple[float, ...] = DEFAULT_TIMES,
    level: float = 0.95,
    group_order: tuple[str, ...] | None = None,
) -> KmResult:
    """Kaplan-Meier estimates (overall or by group) and the log-rank test across groups.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per subject; rows missing time, event or group are dropped.
    time : str
        Follow-up time column (>= 0), in the unit of `times`.
    event : str
        1 = event (death), 0 = censored (boolean accepted).
    group : str, optional
        Grouping column; None estimates one curve for all rows.
    times : tuple of float
        Times at which S(t), its CI and the number at risk are reported.
    level : float
        Confidence level.
    group_order : tuple of str, optional
        Order of the groups in the result (default: sorted).

    Returns
    -------
    KmResult

    Notes
    -----
    Product-limit estimator (Kaplan & Meier 1958) from lifelines, Greenwood variance with
    the log(-log) transform (lifelines' "exponential" Greenwood; R ``survfit(...,
    conf.type = "log-log")``; Kalbfleisch & Prentice 1980). S(t) is right-continuous (events
    at t count); at risk at t = number with time >= t. Times past the last follow-up give
    no estimate. Log-rank test (Mantel 1966; Peto & Peto 1972) from lifelines
    ``multivariate_logrank_test``, df = groups - 1.
    """
    where = "km"
    cols = [time, event] + ([group] if group else [])
    require_columns(df, cols, where)
    te = time_event(df, time, event, where)
    if group:
        g = df.loc[te.index, group]
        te = te.assign(group=g.astype("string")).dropna(subset=["group"])
        if te.empty:
            raise AnalysisInputError(f"{where}: column {group} is empty for every row")
    else:
        te = te.assign(group="all")
    names = list(group_order) if group_order else sorted(te["group"].unique())
    names = [n for n in names if (te["group"] == n).any()]
    fits = []
    for name in names:
        sub = te[te["group"] == name]
        fits.append(
            _fit_group(
                str(name),
                sub["time"].to_numpy(float),
                sub["event"].to_numpy(int),
                tuple(times),
                level,
            )
        )
    lr = None
    if len(names) > 1:
        sub = te[te["group"].isin(names)]
        res = multivariate_logrank_test(sub["time"], sub["group"].astype(str), sub["event"])
        lr = LogrankResult(
            float(res.test_statistic), int(res.degrees_of_freedom), float(res.p_value)
        )
    return KmResult(groups=tuple(fits), logrank=lr, times=tuple(map(float, times)), n=len(te))


@dataclass(frozen=True)
class FollowUpResult:
    median: float | None
    ci: tuple[float | None, float | None]
    n: int
    method: str = "reverse Kaplan-Meier (Schemper & Smith 1996)"


def median_follow_up(df: pd.DataFrame, time: str, event: str) -> FollowUpResult:
    """Median potential follow-up by the reverse Kaplan-Meier method.

    Parameters
    ----------
    df : pandas.DataFrame
    time, event : str
        Follow-up time and event (1 = died) columns.

    Returns
    -------
    FollowUpResult

    Notes
    -----
    Reverse Kaplan-Meier: censoring is the "event" and deaths are censored (Schemper & Smith
    1996, Control Clin Trials 17:343-346); the median of that curve via lifelines.
    """
    te = time_event(df, time, event, "median follow-up")
    kmf = KaplanMeierFitter()
    kmf.fit(te["time"], 1 - te["event"])
    med = float(kmf.median_survival_time_)
    from lifelines.utils import median_survival_times

    ci = median_survival_times(kmf.confidence_interval_)
    lo, hi = float(ci.iloc[0, 0]), float(ci.iloc[0, 1])
    return FollowUpResult(
        nan_to_none(med) if np.isfinite(med) else None, (nan_to_none(lo), nan_to_none(hi)), len(te)
    )
