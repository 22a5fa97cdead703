"""ROC analysis: AUC with DeLong CI, Youden cutoff, and the 2x2 accuracy figures with Wilson CIs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import (
    AnalysisInputError,
    binary_column,
    nan_to_none,
    numeric_column,
    require_columns,
)

AUC_CI_METHOD = "DeLong (1988), fast algorithm of Sun & Xu (2014)"
PROPORTION_CI_METHOD = "Wilson score"
CUTOFF_METHOD = "Youden index; cutoff = midpoint between adjacent distinct values (as SPSS)"


@dataclass(frozen=True)
class Proportion:
    """k of n with a Wilson score CI."""

    estimate: float | None
    ci: tuple[float | None, float | None]
    k: int
    n: int


@dataclass(frozen=True)
class RocResult:
    """An ROC analysis of one score against one binary label."""

    n: int
    n_positive: int
    n_negative: int
    direction: str
    auc: float
    auc_se: float
    auc_ci: tuple[float, float]
    auc_ci_method: str
    p_value: float | None
    cutoff: float | None
    sensitivity: Proportion
    specificity: Proportion
    ppv: Proportion
    npv: Proportion
    ci_method: str
    cutoff_method: str
    fpr: tuple[float, ...]
    tpr: tuple[float, ...]

    def to_json(self) -> dict:
        """The `ildwh stats roc --json` object (NaN as null)."""

        def ci(p: Proportion) -> list:
            return [nan_to_none(p.ci[0]), nan_to_none(p.ci[1])]

        return {
            "n": self.n,
            "n_positive": self.n_positive,
            "direction": self.direction,
            "auc": nan_to_none(self.auc),
            "auc_ci": [nan_to_none(self.auc_ci[0]), nan_to_none(self.auc_ci[1])],
            "auc_ci_method": self.auc_ci_method,
            "p_value": nan_to_none(self.p_value),
            "cutoff": nan_to_none(self.cutoff),
            "sensitivity": nan_to_none(self.sensitivity.estimate),
            "sensitivity_ci": ci(self.sensitivity),
            "specificity": nan_to_none(self.specificity.estimate),
            "specificity_ci": ci(self.specificity),
            "ppv": nan_to_none(self.ppv.estimate),
            "ppv_ci": ci(self.ppv),
            "npv": nan_to_none(self.npv.estimate),
            "npv_ci": ci(self.npv),
            "ci_method": self.ci_method,
        }

    def as_dict(self) -> dict:
        return asdict(self)


def wilson_ci(k: int, n: int, level: float = 0.95) -> Proportion:
    """Proportion k/n with the Wilson score interval.

    Parameters
    ----------
    k, n : int
        Successes and trials (n may be 0: estimate and CI are then None).
    level : float
        Confidence level.

    Returns
    -------
    Proportion

    Notes
    -----
    Wilson score interval without continuity correction (Wilson 1927, JASA 22:209-212;
    Newcombe 1998, Stat Med 17:857-872, method 3).
    """
    if n <= 0:
        return Proportion(None, (None, None), int(k), int(n))
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Proportion(
        float(p), (float(max(0.0, centre - half)), float(min(1.0, centre + half))), int(k), int(n)
    )


def _midrank(x: np.ndarray) -> np.ndarray:
    return stats.rankdata(x, method="average")


def delong_auc(positives: np.ndarray, negatives: np.ndarray) -> tuple[float, float]:
    """AUC and its DeLong variance, positives scoring higher meaning better discrimination.

    Parameters
    ----------
    positives, negatives : numpy.ndarray
        Scores of the positive and negative class (no missing values).

    Returns
    -------
    (auc, variance) : tuple of float

    Notes
    -----
    DeLong, DeLong & Clarke-Pearson (1988), Biometrics 44:837-845, structural components
    (placement values) computed with the midrank algorithm of Sun & Xu (2014), IEEE Signal
    Processing Letters 21:1389-1393. Ties count one half.
    """
    m, n = len(positives), len(negatives)
    z = np.concatenate([positives, negatives])
    tz = _midrank(z)
    tx = _midrank(positives)
    ty = _midrank(negatives)
    v10 = (tz[:m] - tx) / n
    v01 = 1.0 - (tz[m:] - ty) / m
    auc = float(v10.mean())
    s10 = float(np.var(v10, ddof=1)) if m > 1 else 0.0
    s01 = float(np.var(v01, ddof=1)) if n > 1 else 0.0
    return auc, s10 / m + s01 / n


def _resolve_direction(pos: np.ndarray, neg: np.ndarray, direction: str) -> str:
    if direction not in ("auto", "higher", "lower"):
        raise AnalysisInputError(
            f"roc: direction must be auto, higher or lower (got {direction!r})"
        )
    if direction != "auto":
        return direction
    return "higher" if np.median(pos) >= np.median(neg) else "lower"


def _youden(pos: np.ndarray, neg: np.ndarray) -> float | None:
    """Cutoff maximising sensitivity + specificity - 1 for 'positive when score > cutoff'."""
    values = np.unique(np.concatenate([pos, neg]))
    if len(values) < 2:
        return None
    cutoffs = (values[:-1] + values[1:]) / 2
    sens = (pos[None, :] > cutoffs[:, None]).mean(axis=1)
    spec = (neg[None, :] <= cutoffs[:, None]).mean(axis=1)
    j = sens + spec - 1
    return float(cutoffs[int(np.argmax(j))])  # first (lowest) cutoff among ties


def _curve(pos: np.ndarray, neg: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    values = np.unique(np.concatenate([pos, neg]))
    cut = np.concatenate([[-np.inf], (values[:-1] + values[1:]) / 2, [np.inf]])[::-1]
    tpr = (pos[None, :] > cut[:, None]).mean(axis=1)
    fpr = (neg[None, :] > cut[:, None]).mean(axis=1)
    return tuple(map(float, fpr)), tuple(map(float, tpr))


def roc_analysis(
    df: pd.DataFrame, score: str, label: str, direction: str = "auto", level: float = 0.95
) -> RocResult:
    """ROC analysis of `score` for the binary `label` (1 = positive class).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per subject; rows missing the score or the label are dropped.
    score : str
        Numeric (or 0/1, boolean) column.
    label : str
        Binary 0/1 or boolean column.
    direction : {"auto", "higher", "lower"}
        Which side of the score means positive. ``auto`` picks "higher" when the positive
        class has the higher (or equal) median, as pROC does.
    level : float
        Confidence level for all intervals.

    Returns
    -------
    RocResult

    Notes
    -----
    AUC (Mann-Whitney form, ties 1/2) with DeLong variance (DeLong et al. 1988, Biometrics
    44:837-845; fast algorithm Sun & Xu 2014); CI = AUC +/- z * SE clipped to [0, 1] (as
    pROC); p from z = (AUC - 0.5) / SE, two-sided. Youden-optimal cutoff (Youden 1950) among
    midpoints of adjacent distinct values; with direction "higher" a subject is test-positive
    when score > cutoff ("lower": score < cutoff). Sensitivity, specificity, PPV and NPV with
    Wilson score CIs (Newcombe 1998). PPV/NPV use the sample prevalence.
    """
    where = "roc"
    require_columns(df, [score, label], where)
    s = numeric_column(df, score, where)
    y = binary_column(df, label, where)
    keep = s.notna() & y.notna()
    s, y = s[keep].to_numpy(float), y[keep].to_numpy(float)
    if len(s) == 0:
        raise AnalysisInputError(f"{where}: no rows with both {score} and {label} present")
    pos, neg = s[y == 1], s[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        raise AnalysisInputError(
            f"{where}: label {label} needs both classes; found {len(pos)} positive and "
            f"{len(neg)} negative row(s)"
        )
    direction = _resolve_direction(pos, neg, direction)
    sp, sn = (pos, neg) if direction == "higher" else (-pos, -neg)
    auc, var = delong_auc(sp, sn)
    se = float(np.sqrt(var))
    z = stats.norm.ppf(0.5 + level / 2)
    ci = (float(max(0.0, auc - z * se)), float(min(1.0, auc + z * se)))
    p = float(2 * stats.norm.sf(abs(auc - 0.5) / se)) if se > 0 else None
    cut = _youden(sp, sn)
    if cut is None:
        tp, fp = len(pos), len(neg)
    else:
        tp, fp = int((sp > cut).sum()), int((sn > cut).sum())
    fn, tn = len(pos) - tp, len(neg) - fp
    fpr, tpr = _curve(sp, sn)
    return RocResult(
        n=len(s),
        n_positive=len(pos),
        n_negative=len(neg),
        direction=direction,
        auc=auc,
        auc_se=se,
        auc_ci=ci,
        auc_ci_method=AUC_CI_METHOD,
        p_value=p,
        cutoff=None if cut is None else (cut if direction == "higher" else -cut),
        sensitivity=wilson_ci(tp, tp + fn, level),
        specificity=wilson_ci(tn, tn + fp, level),
        ppv=wilson_ci(tp, tp + fp, level),
        npv=wilson_ci(tn, tn + fn, level),
        ci_method=PROPORTION_CI_METHOD,
        cutoff_method=CUTOFF_METHOD,
        fpr=fpr,
        tpr=tpr,
    )
