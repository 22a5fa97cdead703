"""The analysis library's own exception and the input checks every public function runs first."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ildwh import IldwhError


class AnalysisInputError(IldwhError):
    """Input a statistic cannot be computed from; the message says which column and what to fix."""


def require_columns(df: pd.DataFrame, columns: Iterable[str], where: str = "input") -> None:
    """Raise when a column is missing, naming the columns that exist."""
    if not isinstance(df, pd.DataFrame):
        raise AnalysisInputError(f"{where}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        have = ", ".join(map(str, df.columns)) or "(none)"
        raise AnalysisInputError(
            f"{where}: unknown column(s) {', '.join(missing)}; available columns: {have}"
        )


def numeric_column(df: pd.DataFrame, column: str, where: str = "input") -> pd.Series:
    """The column as float (booleans become 0/1); raise when it holds text."""
    s = df[column]
    if s.dtype == bool or str(s.dtype) == "boolean":
        return s.astype("Float64").astype(float)
    try:
        return pd.to_numeric(s, errors="raise").astype(float)
    except (ValueError, TypeError) as exc:
        raise AnalysisInputError(
            f"{where}: column {column} must be numeric (got values like {s.dropna().iloc[0]!r}); "
            "cast it in the query"
        ) from exc


def binary_column(df: pd.DataFrame, column: str, where: str = "input") -> pd.Series:
    """The column as 0/1 float with NaN for missing; raise unless its values are within {0, 1}."""
    s = numeric_column(df, column, where)
    bad = sorted(set(s.dropna().unique()) - {0.0, 1.0})
    if bad:
        shown = ", ".join(f"{v:g}" for v in bad[:5])
        raise AnalysisInputError(
            f"{where}: column {column} must be binary 0/1 (or boolean); found {shown}"
        )
    return s


def time_event(df: pd.DataFrame, time: str, event: str, where: str = "input") -> pd.DataFrame:
    """Validated survival columns as a frame with `time`, `event`; drops rows missing either."""
    require_columns(df, [time, event], where)
    t = numeric_column(df, time, where)
    e = binary_column(df, event, where)
    out = pd.DataFrame({"time": t, "event": e}, index=df.index).dropna()
    if out.empty:
        raise AnalysisInputError(f"{where}: no rows with both {time} and {event} present")
    if (out["time"] < 0).any():
        n = int((out["time"] < 0).sum())
        raise AnalysisInputError(
            f"{where}: column {time} has {n} negative time(s); follow-up time must be >= 0"
        )
    if not np.isfinite(out["time"]).all():
        raise AnalysisInputError(f"{where}: column {time} has infinite values")
    out["event"] = out["event"].astype(int)
    return out


def nan_to_none(x: float | None) -> float | None:
    """JSON-safe float: NaN and infinities become None."""
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None
