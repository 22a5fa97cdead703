"""`ildwh export`: the report's tables as CSV with small counts suppressed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import io
from analysis.errors import AnalysisInputError


def suppress_small_cells(frame: pd.DataFrame, min_cell: int) -> tuple[pd.DataFrame, list[str]]:
    """Hide counts 1..min_cell-1 (and the percentages, CIs and differences of the same item).

    Parameters
    ----------
    frame : pandas.DataFrame
        A long `results.*` table (columns `subgroup`, `item`, `statistic`, `ours`, `published`,
        `difference`, `is_count`).
    min_cell : int
        Smallest count shown; smaller positive counts become the text ``<min_cell``.

    Returns
    -------
    (frame, notes)
        The suppressed copy (``ours``/``difference`` as text) and one note per suppressed cell.

    Notes
    -----
    Primary suppression of small cells (threshold rule, e.g. ICO/NHS "small numbers" guidance):
    a count of 0 is shown; every other non-count figure of the same (subgroup, item) — a percentage or
    a proportion computed from the hidden count — is hidden too, so it cannot be recovered.
    Published figures are public and are kept.
    """
    if min_cell < 1:
        raise AnalysisInputError(f"--min-cell must be >= 1 (got {min_cell})")
    out = frame.copy()
    out["ours"] = out["ours"].astype(object)
    out["difference"] = out["difference"].astype(object)
    small = (
        out["is_count"].fillna(False).astype(bool)
        & out["ours"].notna()
        & (out["ours"].astype(float) > 0)
        & (out["ours"].astype(float) < min_cell)
    )
    notes = []
    hidden_items = set()
    for _, r in out[small].iterrows():
        notes.append(
            f"{r['analysis']}: {r['subgroup']} / {r['item']} / {r['statistic']} = <{min_cell}"
        )
        hidden_items.add((r["subgroup"], r["item"], _side(r["statistic"])))
    mask = (
        out.apply(
            lambda r: (
                (r["subgroup"], r["item"], _side(r["statistic"])) in hidden_items
                and r["statistic"] not in ("p_value", "statistic", "smd")
                and not bool(r["is_count"])
            ),
            axis=1,
        )
        if len(out)
        else pd.Series([], dtype=bool)
    )
    out.loc[mask, ["ours", "difference"]] = None
    out.loc[small, "ours"] = f"<{min_cell}"
    return out, notes


def _side(statistic: str) -> str:
    """Which side of a Table 2 row a statistic belongs to ('adm', 'control' or the whole row)."""
    for side in ("adm", "control"):
        if str(statistic).startswith(side + "_"):
            return side
    return ""


def export_cli(paths, out: str | None, min_cell: int) -> int:
    """Write every `results.*` table of the analytics database as CSV, small cells suppressed."""
    db = paths.analytics_db
    tables = io.read_results(db)
    out_dir = Path(out) if out else paths.reports_dir / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, frame in tables.items():
        sup, notes = suppress_small_cells(frame, min_cell)
        sup.drop(columns=["is_count"]).to_csv(out_dir / f"{name}.csv", index=False)
        total += len(notes)
        for n in notes:
            print(f"suppressed {n}")
    print(
        f"wrote {len(tables)} table(s) to {out_dir}; {total} count(s) below {min_cell} "
        "suppressed (with the figures derived from them)"
    )
    return 0
