"""What changed between two published refreshes, and why (`ildwh diff`).

Compares two snapshots of the published analytics database (`history.marts__cohort`,
`history.marts__baseline`, `history.marts__survival`, `history.results__*`, one `snapshot_run_id`
each) and explains every difference with the raw record versions behind it
(`marts.record_changes`, the delta drops delivered after the older run's data freshness up to the
newer run's). Three lists: patients whose cohort status changed (entered or left the analysed
cohort, changed group, control diagnosis or exit reason) with the rule that changed; analysed
patients whose baseline or follow-up values changed; results figures whose `ours` moved by more
than a relative threshold, with the patients driving each. Opens the database read-only; at
publication `write_change_tables` stores the same diff as `ops.cohort_changes` and
`ops.figure_changes`.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from analysis.cox import DEFAULT_MULTIVARIATE
from analysis.tables import TABLE1_ITEMS, TABLE2_ROWS
from ildwh import IldwhError

NOT_SCREENED = "not screened"
NOTIFY_ENV = "ILDWH_NOTIFY_BLOCK"
# the statistics shown in the readable table (every moved statistic is in --json)
KEY_STATISTICS = {
    "auc",
    "cutoff",
    "estimate",
    "hr",
    "p_value",
    "adm_mean",
    "control_mean",
    "adm_count",
    "control_count",
    "count",
    "median_months",
}
TABLE_ORDER = ("table1", "table2", "roc", "km", "logrank", "cox")  # the report's order
ROC_VARIABLE = {"ldh": "ldh_u_per_l", "ana": "ana_positive"}
TABLE2_VARIABLE = {key: col for key, col, _, _ in TABLE2_ROWS}
TABLE1_VARIABLE = {
    **{col: col for _, col, _, _ in TABLE1_ITEMS},
    **{key: col for key, col, _, _ in TABLE1_ITEMS},
    "age_mean_sd": "age_years",
}
GROUPS = ("ADM-NSIP", "control-NSIP", "ADM-OP", "control-OP")
COHORT_COLUMNS = ("person_key", "exit_reason", "analysis_group", "control_diagnosis")


@dataclass(frozen=True)
class RecordChange:
    """One delivered record version (a row of `marts.record_changes`)."""

    drop_id: str
    table_name: str
    record_id: str
    change_type: str
    changed_at: str | None
    summary: str


@dataclass(frozen=True)
class CohortChange:
    """A patient who entered or left the analysed cohort or changed group/diagnosis/exit reason."""

    person_key: str
    old_exit_reason: str | None  # None = not screened in that run
    new_exit_reason: str | None
    old_group: str | None
    new_group: str | None
    old_control_diagnosis: str | None
    new_control_diagnosis: str | None
    rule: str
    raw_changes: tuple[RecordChange, ...] = ()


@dataclass(frozen=True)
class ValueChange:
    """A baseline or follow-up value of a patient analysed in both runs that changed."""

    person_key: str
    analysis_group: str
    variable: str
    old: float | bool | None
    new: float | bool | None
    note: str | None = None  # e.g. "crosses the ROC cutoff 235.5"
    raw_changes: tuple[RecordChange, ...] = ()


@dataclass(frozen=True)
class FigureChange:
    """A results figure whose `ours` moved by more than the threshold."""

    results_table: str
    subgroup: str
    item: str
    statistic: str
    old: float | None
    new: float | None
    relative_change: float | None
    published: float | None
    drivers: tuple[str, ...]


@dataclass(frozen=True)
class DiffResult:
    """`compute_diff`'s answer; `material` is True when anything a study team reads moved."""

    run_from: str
    run_to: str
    freshness_from: str | None
    freshness_to: str | None
    threshold: float
    cohort_changes: tuple[CohortChange, ...]
    rule_counts: tuple[tuple[str, int], ...]
    value_changes: tuple[ValueChange, ...]
    figure_changes: tuple[FigureChange, ...]
    attrition: tuple[tuple[str, int, int], ...]  # (step, old count, new count), changed only
    drops: tuple[str, ...] = field(default=())

    @property
    def material(self) -> bool:
        return bool(self.cohort_changes or self.figure_changes or self.attrition)

    @property
    def patients(self) -> tuple[str, ...]:
        keys = {c.person_key for c in self.cohort_changes} | {
            v.person_key for v in self.value_changes
        }
        return tuple(sorted(keys))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["material"] = self.material
        return d


# ---------------------------------------------------------------- pure comparison
@dataclass(frozen=True)
class Snapshot:
    """One run's marts and results as DataFrames."""

    run_id: str
    freshness: str | None
    cohort: pd.DataFrame
    baseline: pd.DataFrame
    survival: pd.DataFrame
    results: dict[str, pd.DataFrame]


def _val(x):
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA or x is pd.NaT:
        return None
    if hasattr(x, "item"):
        x = x.item()
    return x


def _state(exit_reason: str | None) -> str:
    return exit_reason if exit_reason else NOT_SCREENED


def _rule(old: dict, new: dict) -> str | None:
    oe, ne = old.get("exit_reason"), new.get("exit_reason")
    if oe != ne:
        return f"{_state(oe)} -> {_state(ne)}"
    if old.get("analysis_group") != new.get("analysis_group"):
        return f"group {old.get('analysis_group')} -> {new.get('analysis_group')}"
    if old.get("control_diagnosis") != new.get("control_diagnosis"):
        return f"control diagnosis {old.get('control_diagnosis')} -> {new.get('control_diagnosis')}"
    return None


def _rows(frame: pd.DataFrame, cols: list[str]) -> dict[str, dict]:
    if frame.empty:
        return {}
    f = frame.set_index("person_key")
    return {k: {c: _val(r[c]) for c in cols if c in f.columns} for k, r in f.iterrows()}


def _changed(a, b) -> bool:
    a, b = _val(a), _val(b)
    if a is None or b is None:
        return (a is None) != (b is None)
    if isinstance(a, float) or isinstance(b, float):
        return not math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    return a != b


def _relative(old: float | None, new: float | None) -> float | None:
    if old is None or new is None:
        return None if old is None and new is None else math.inf
    if old == new:
        return 0.0
    return math.inf if old == 0 else abs(new - old) / abs(old)


def diff_snapshots(
    old: Snapshot, new: Snapshot, record_changes: pd.DataFrame, threshold: float = 0.01
) -> DiffResult:
    """Compare two snapshots; explain changes with `record_changes` rows (already restricted to
    the drops between the two runs)."""
    raw: dict[str, tuple[RecordChange, ...]] = {}
    rc = (
        record_changes.sort_values(["drop_id", "table_name", "record_id"])
        if len(record_changes)
        else record_changes
    )
    for r in rc.itertuples(index=False):
        raw.setdefault(r.person_key, ())
        raw[r.person_key] += (
            RecordChange(
                str(r.drop_id),
                str(r.table_name),
                str(r.record_id),
                str(r.change_type),
                None if _val(r.changed_at) is None else str(r.changed_at),
                str(r.summary),
            ),
        )
    ccols = ["exit_reason", "analysis_group", "control_diagnosis", "hrct_pattern"]
    oc, nc = _rows(old.cohort, ccols), _rows(new.cohort, ccols)
    cohort_changes = []
    for k in sorted(set(oc) | set(nc)):
        o, n = oc.get(k, {}), nc.get(k, {})
        rule = _rule(o, n)
        if rule:
            cohort_changes.append(
                CohortChange(
                    k,
                    o.get("exit_reason"),
                    n.get("exit_reason"),
                    o.get("analysis_group"),
                    n.get("analysis_group"),
                    o.get("control_diagnosis"),
                    n.get("control_diagnosis"),
                    rule,
                    raw.get(k, ()),
                )
            )
    counts: dict[str, int] = {}
    for c in cohort_changes:
        counts[c.rule] = counts.get(c.rule, 0) + 1

    # values of patients analysed in both runs
    bcols = [c for c in new.baseline.columns if c not in ("person_key",)]
    ob, nb = _rows(old.baseline, bcols), _rows(new.baseline, bcols)
    scols = ["time_days", "event"]
    os_, ns = _rows(old.survival, scols), _rows(new.survival, scols)
    cutoffs = _cutoffs(old)
    value_changes, changed_var = [], {}
    for k in sorted(set(ob) & set(nb)):
        group = nb[k].get("analysis_group")
        for var, a, b in [
            (c, ob[k].get(c), nb[k].get(c))
            for c in bcols
            if c not in ("analysis_group", "hrct_pattern", "is_adm")
        ] + [(c, os_.get(k, {}).get(c), ns.get(k, {}).get(c)) for c in scols]:
            if _changed(a, b):
                changed_var.setdefault(var, set()).add(k)
                value_changes.append(
                    ValueChange(k, group, var, a, b, _note(var, a, b, cutoffs), raw.get(k, ()))
                )
    figure_changes = _figures(old, new, threshold, ob, nb, changed_var)
    att = _attrition(old.cohort, new.cohort)
    drops = tuple(sorted({r.drop_id for v in raw.values() for r in v}))
    return DiffResult(
        old.run_id,
        new.run_id,
        old.freshness,
        new.freshness,
        threshold,
        tuple(cohort_changes),
        tuple(sorted(counts.items())),
        tuple(value_changes),
        tuple(figure_changes),
        att,
        drops,
    )


def _cutoffs(snap: Snapshot) -> dict[str, float]:
    roc = snap.results.get("roc")
    out = {}
    if roc is not None and len(roc):
        for sub, var in ROC_VARIABLE.items():
            m = roc[(roc["subgroup"] == sub) & (roc["item"] == "cutoff")]
            if len(m) and _val(m["ours"].iloc[0]) is not None:
                out[var] = float(m["ours"].iloc[0])
    return out


def _note(var: str, a, b, cutoffs: dict[str, float]) -> str | None:
    c = cutoffs.get(var)
    if c is None or _val(a) is None or _val(b) is None or isinstance(a, bool):
        return None
    if (float(a) > c) != (float(b) > c):
        return f"crosses the ROC cutoff {c:g}"
    return None


def _attrition(old: pd.DataFrame, new: pd.DataFrame) -> tuple[tuple[str, int, int], ...]:
    def counts(c: pd.DataFrame) -> dict[str, int]:
        out = {"screened": len(c)}
        for k, v in c["exit_reason"].value_counts().items():
            out[str(k)] = int(v)
        for k, v in c["analysis_group"].dropna().value_counts().items():
            out[str(k)] = int(v)
        out["ADM"] = int(c["analysis_group"].isin(["ADM-NSIP", "ADM-OP"]).sum())
        return out

    a, b = counts(old), counts(new)
    return tuple(
        (k, a.get(k, 0), b.get(k, 0)) for k in sorted(set(a) | set(b)) if a.get(k, 0) != b.get(k, 0)
    )


def _figures(
    old: Snapshot, new: Snapshot, threshold: float, ob: dict, nb: dict, changed_var: dict[str, set]
) -> list[FigureChange]:
    og = {k: v.get("analysis_group") for k, v in ob.items()}
    ng = {k: v.get("analysis_group") for k, v in nb.items()}

    def moved(groups: set[str]) -> set[str]:
        """Patients who entered or left the union of `groups`."""
        return {
            k
            for k in set(og) | set(ng)
            if (og.get(k) in groups) != (ng.get(k) in groups)
            or (og.get(k) in groups and ng.get(k) in groups and og.get(k) != ng.get(k))
        }

    def members(groups: set[str]) -> set[str]:
        return {k for k in set(og) | set(ng) if og.get(k) in groups or ng.get(k) in groups}

    def drivers(table: str, sub: str, item: str) -> set[str]:
        adm = {"ADM-NSIP", "ADM-OP"}
        if table in ("table2", "logrank"):
            groups = {f"ADM-{sub}", f"control-{sub}"}
            var = TABLE2_VARIABLE.get(item) if table == "table2" else None
            timevars = ("time_days", "event") if table == "logrank" else ()
        elif table == "table1":
            groups = adm if sub == "ALL" else {sub}
            var, timevars = TABLE1_VARIABLE.get(item), ()
        elif table == "roc":
            groups = set(GROUPS) if item != "ldh_above_normal_in_adm" else adm
            var = "ldh_above_normal" if item == "ldh_above_normal_in_adm" else ROC_VARIABLE.get(sub)
            timevars = ()
        elif table == "km":
            groups = adm if sub == "ADM" else {sub}
            var, timevars = None, ("time_days", "event")
        elif table == "cox":
            groups = adm
            var = item if item != "_model" else None
            timevars = ("time_days", "event")
        else:
            groups, var, timevars = set(GROUPS), None, ()
        out = moved(groups)
        if table == "roc":  # ADM vs control is the label: a group change within NSIP/OP counts
            out |= {k for k in set(og) & set(ng) if og[k] != ng[k]}
        within = members(groups)
        names = [var] if var else []
        if table == "cox" and item == "_model":
            names = list(DEFAULT_MULTIVARIATE)
        for v in (*names, *timevars):
            out |= changed_var.get(v, set()) & within
        return out

    rows = []
    order = {t: i for i, t in enumerate(TABLE_ORDER)}
    for table in sorted(set(old.results) | set(new.results), key=lambda t: (order.get(t, 99), t)):
        a, b = old.results.get(table), new.results.get(table)
        if a is None or b is None:
            continue
        key = ["subgroup", "item", "statistic"]
        m = a[key + ["ours"]].merge(
            b[key + ["ours", "published"]], on=key, how="outer", suffixes=("_old", "_new")
        )
        for r in m.itertuples(index=False):
            o, n = _val(r.ours_old), _val(r.ours_new)
            rel = _relative(None if o is None else float(o), None if n is None else float(n))
            if rel is None or rel <= threshold:
                continue
            rows.append(
                FigureChange(
                    table,
                    str(r.subgroup),
                    str(r.item),
                    str(r.statistic),
                    o,
                    n,
                    None if math.isinf(rel) else rel,
                    _val(r.published),
                    tuple(sorted(drivers(table, str(r.subgroup), str(r.item)))),
                )
            )
    return rows


# ---------------------------------------------------------------- reading snapshots
def _snapshot(con: duckdb.DuckDBPyConnection, run_id: str, freshness: str | None) -> Snapshot:
    def hist(t: str) -> pd.DataFrame:
        return con.execute(
            f'select * exclude (snapshot_run_id) from history."{t}" where snapshot_run_id = ?',
            [run_id],
        ).df()

    tables = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'history' "
            "and table_catalog = current_database()"
        ).fetchall()
    ]
    for t in ("marts__cohort", "marts__baseline", "marts__survival"):
        if t not in tables:
            raise IldwhError(f"history.{t} is missing: the publication holds no snapshot of it")
    results = {t.removeprefix("results__"): hist(t) for t in tables if t.startswith("results__")}
    snap = Snapshot(
        run_id,
        freshness,
        hist("marts__cohort"),
        hist("marts__baseline"),
        hist("marts__survival"),
        results,
    )
    for name, cols in (
        ("cohort", COHORT_COLUMNS),
        ("baseline", ("person_key", "analysis_group")),
        ("survival", ("person_key", "time_days", "event")),
    ):
        lacking = sorted(set(cols) - set(getattr(snap, name).columns))
        if lacking:
            raise IldwhError(
                f"history.marts__{name} lacks column(s) {lacking} (docs/architecture.md"
                " lists the marts columns); rebuild with the current dbt project"
            )
    return snap


def _published_runs(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str | None]]:
    """(run_id, data_freshness) of the runs with a snapshot, oldest first."""
    snap = {
        r[0]
        for r in con.execute(
            "select distinct snapshot_run_id from history.marts__cohort"
        ).fetchall()
    }
    try:
        fresh = dict(
            con.execute(
                "select run_id, data_freshness from ops.runs where status = 'published'"
            ).fetchall()
        )
    except duckdb.CatalogException:
        fresh = {}
    # run ids start with their UTC start time (ildwh.runs.new_run_id): sorting is chronological
    return [(r, fresh.get(r)) for r in sorted(snap)]


def _record_changes(con, after: str | None, upto: str | None) -> pd.DataFrame:
    try:
        return con.execute(
            "select drop_id, table_name, record_id, person_key, change_type, "
            "cast(changed_at as varchar) as changed_at, summary from marts.record_changes "
            "where (? is null or drop_id > ?) and (? is null or drop_id <= ?) "
            "order by drop_id, table_name, record_id",
            [after, after, upto, upto],
        ).df()
    except duckdb.CatalogException:
        return pd.DataFrame(
            columns=[
                "drop_id",
                "table_name",
                "record_id",
                "person_key",
                "change_type",
                "changed_at",
                "summary",
            ]
        )


def _diff_on(
    con, run_from: str | None, run_to: str | None, threshold: float, where: str
) -> DiffResult:
    try:
        runs = _published_runs(con)
    except duckdb.CatalogException as exc:
        raise IldwhError(
            f"{where}: no history.marts__cohort; publish a refresh first (`ildwh refresh`)"
        ) from exc
    ids = [r for r, _ in runs]
    fresh = dict(runs)
    for r in (run_from, run_to):
        if r is not None and r not in fresh:
            raise IldwhError(
                f"{where}: run {r} has no snapshot in history (kept runs: "
                f"{', '.join(ids[-5:]) or 'none'}); pass --from/--to with one of them"
            )
    run_to = run_to or (ids[-1] if ids else None)
    if run_from is None:
        earlier = ids[: ids.index(run_to)] if run_to in ids else []
        run_from = earlier[-1] if earlier else None
    if run_from is None or run_to is None:
        raise IldwhError(
            f"{where}: fewer than two published runs to compare; run another "
            "refresh after a new drop (or pass --from/--to)"
        )
    rc = _record_changes(con, fresh.get(run_from), fresh.get(run_to))
    return diff_snapshots(
        _snapshot(con, run_from, fresh.get(run_from)),
        _snapshot(con, run_to, fresh.get(run_to)),
        rc,
        threshold,
    )


def compute_diff(
    analytics_db: Path,
    run_from: str | None = None,
    run_to: str | None = None,
    threshold: float = 0.01,
) -> DiffResult:
    """What changed between two published runs of `analytics_db` (default: the last two).

    Parameters
    ----------
    analytics_db : the published `analytics.duckdb` (opened read-only).
    run_from, run_to : run ids with a snapshot in `history` (default: previous and latest).
    threshold : a results figure is listed when |new - old| / |old| exceeds it (a figure that
        appears, disappears or leaves zero always counts).

    Returns
    -------
    DiffResult

    Notes
    -----
    Raw changes are the `marts.record_changes` rows of drops after `run_from`'s data freshness up
    to `run_to`'s. Drivers of a figure: for Table 1/2 and ROC rows, patients whose baseline value of
    that variable changed or who entered or left the groups compared; for Kaplan-Meier, log-rank and
    Cox, patients whose time or event (or Cox covariate) changed or who entered or left the groups.
    """
    analytics_db = Path(analytics_db)
    if not analytics_db.exists():
        raise IldwhError(f"{analytics_db}: no published warehouse; run `ildwh refresh` first")
    con = duckdb.connect(str(analytics_db), read_only=True)
    try:
        return _diff_on(con, run_from, run_to, threshold, str(analytics_db))
    finally:
        con.close()


def diff_against_build(
    previous_db: Path, build_db: Path, run_id: str, freshness: str | None, threshold: float = 0.01
) -> DiffResult:
    """The run being built (`build_db`: marts, results, marts.record_changes) against the latest
    publication in `previous_db`, before it is published (for the study report). Both files are
    opened read-only; raises IldwhError when there is no earlier publication."""
    if not Path(previous_db).exists():
        raise IldwhError(f"{previous_db}: no earlier publication to compare with")
    con = duckdb.connect(str(previous_db), read_only=True)
    try:
        runs = _published_runs(con)
        if not runs:
            raise IldwhError(f"{previous_db}: no published run in history")
        old = _snapshot(con, *runs[-1])
    except duckdb.CatalogException as exc:
        raise IldwhError(f"{previous_db}: no history to compare with ({exc})") from exc
    finally:
        con.close()
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        results = {
            t: con.execute(f'select * from results."{t}"').df()
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'results'"
            ).fetchall()
        }
        new = Snapshot(
            run_id,
            freshness,
            *(
                con.execute(f"select * from marts.{t}").df()
                for t in ("cohort", "baseline", "survival")
            ),
            results,
        )
        rc = _record_changes(con, old.freshness, freshness)
    finally:
        con.close()
    return diff_snapshots(old, new, rc, threshold)


# ---------------------------------------------------------------- publication (ops tables)
COHORT_CHANGES_DDL = """create table ops.cohort_changes (run_id varchar, previous_run_id varchar,
 person_key varchar, old_exit_reason varchar, new_exit_reason varchar, old_group varchar,
 new_group varchar, old_control_diagnosis varchar, new_control_diagnosis varchar, rule varchar,
 raw_changes struct(drop_id varchar, table_name varchar, record_id varchar, change_type varchar,
 changed_at varchar, summary varchar)[])"""
FIGURE_CHANGES_DDL = """create table ops.figure_changes (run_id varchar, previous_run_id varchar,
 results_table varchar, subgroup varchar, item varchar, statistic varchar, old_value double,
 new_value double, relative_change double, published double, drivers varchar[])"""


def write_change_tables(
    con: duckdb.DuckDBPyConnection, run_id: str, has_prev: bool, threshold: float = 0.01
) -> int:
    """At publication: `ops.cohort_changes` and `ops.figure_changes` = the previous publication's
    rows (runs still in history) + this run's diff against the previous published run.
    Returns the number of rows added for this run."""
    con.execute(COHORT_CHANGES_DDL)
    con.execute(FIGURE_CHANGES_DDL)
    kept = [
        r[0]
        for r in con.execute(
            "select distinct snapshot_run_id from history.marts__cohort"
        ).fetchall()
    ]
    if has_prev:
        for t in ("cohort_changes", "figure_changes"):
            if con.execute(
                "select count(*) from information_schema.tables where table_catalog = "
                "'prev' and table_schema = 'ops' and table_name = ?",
                [t],
            ).fetchone()[0]:
                con.execute(
                    f"insert into ops.{t} by name select * from prev.ops.{t} "
                    "where run_id <> ? and run_id in (select unnest(?::varchar[]))",
                    [run_id, kept],
                )
    try:
        d = _diff_on(con, None, run_id, threshold, "publication")
    except IldwhError as exc:  # first publication, or no cohort snapshot: nothing to compare
        logging.getLogger(__name__).info("no run-to-run diff stored: %s", exc)
        return 0
    for c in d.cohort_changes:
        con.execute(
            "insert into ops.cohort_changes values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                d.run_from,
                c.person_key,
                c.old_exit_reason,
                c.new_exit_reason,
                c.old_group,
                c.new_group,
                c.old_control_diagnosis,
                c.new_control_diagnosis,
                c.rule,
                [asdict(r) for r in c.raw_changes],
            ],
        )
    for f in d.figure_changes:
        con.execute(
            "insert into ops.figure_changes values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                d.run_from,
                f.results_table,
                f.subgroup,
                f.item,
                f.statistic,
                f.old,
                f.new,
                f.relative_change,
                f.published,
                list(f.drivers),
            ],
        )
    return len(d.cohort_changes) + len(d.figure_changes)


# ---------------------------------------------------------------- presentation
def _fmt(x) -> str:
    x = _val(x)
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _short(k: str) -> str:
    return k[:12]


def render_text(d: DiffResult) -> str:
    """The readable report of `ildwh diff`."""
    out = [
        f"ildwh diff: run {d.run_from} (data {d.freshness_from}) -> run {d.run_to} "
        f"(data {d.freshness_to}); drops in between: {', '.join(d.drops) or 'none'}",
        f"material changes: {'YES' if d.material else 'no'}",
        "",
    ]
    out.append(f"Cohort changes ({len(d.cohort_changes)} patient(s))")
    for c in d.cohort_changes:
        out.append(
            f"  {_short(c.person_key)}  {c.rule}"
            f"  [group {c.old_group or '-'} -> {c.new_group or '-'}]"
        )
        out += [
            f"      {r.drop_id} {r.change_type:<7} {r.table_name}/{r.record_id}: {r.summary}"
            for r in c.raw_changes
        ]
    if d.rule_counts:
        out.append("  per rule: " + "; ".join(f"{r}: {n}" for r, n in d.rule_counts))
    if d.attrition:
        out.append(
            "  counts: " + ", ".join(f"{s} {a} -> {b} ({b - a:+d})" for s, a, b in d.attrition)
        )
    out.append("")
    out.append(f"Value changes of patients analysed in both runs ({len(d.value_changes)})")
    seen = set()
    for v in d.value_changes:
        out.append(
            f"  {_short(v.person_key)}  {v.analysis_group}  {v.variable}: {_fmt(v.old)} -> "
            f"{_fmt(v.new)}" + (f"  ({v.note})" if v.note else "")
        )
        if v.person_key not in seen:
            seen.add(v.person_key)
            out += [
                f"      {r.drop_id} {r.change_type:<7} {r.table_name}/{r.record_id}: {r.summary}"
                for r in v.raw_changes
            ]
    out.append("")
    shown = [f for f in d.figure_changes if f.statistic in KEY_STATISTICS]
    out.append(
        f"Figures that moved by more than {d.threshold:.1%} ({len(d.figure_changes)}; "
        f"{len(shown)} key figures shown, all in --json)"
    )
    out.append(
        f"  {'table':<8} {'subgroup':<13} {'item':<24} {'statistic':<14} "
        f"{'old':>10} {'new':>10} {'change':>8}  drivers"
    )
    for f in shown:
        rel = "new" if f.relative_change is None else f"{f.relative_change:+.1%}".replace("+", "")
        drv = ", ".join(_short(k) for k in f.drivers[:4]) + (
            f" +{len(f.drivers) - 4}" if len(f.drivers) > 4 else ""
        )
        out.append(
            f"  {f.results_table:<8} {f.subgroup:<13} {f.item:<24} {f.statistic:<14} "
            f"{_fmt(f.old):>10} {_fmt(f.new):>10} {rel:>8}  {drv or '-'}"
        )
    return "\n".join(out)


def render_markdown(d: DiffResult, max_rows: int = 30) -> str:
    """A short section for the flow's run summary artifact (pseudonyms shortened, no values of
    individual patients)."""
    lines = [
        f"## What changed since run {d.run_from}",
        f"**{'material changes' if d.material else 'no material change'}**; "
        f"drops {', '.join(d.drops) or 'none'}; {len(d.cohort_changes)} cohort change(s), "
        f"{len({v.person_key for v in d.value_changes})} patient(s) with changed values, "
        f"{len(d.figure_changes)} figure(s) moved > {d.threshold:.1%}",
        "",
    ]
    if d.rule_counts:
        lines += ["| rule | patients |", "|---|---|"]
        lines += [f"| {r} | {n} |" for r, n in d.rule_counts] + [""]
    if d.attrition:
        lines += ["| count | before | after |", "|---|---|---|"]
        lines += [f"| {s} | {a} | {b} |" for s, a, b in d.attrition] + [""]
    key = [f for f in d.figure_changes if f.statistic in KEY_STATISTICS][:max_rows]
    if key:
        lines += ["| figure | old | new | drivers |", "|---|---|---|---|"]
        lines += [
            f"| {f.results_table} {f.subgroup} {f.item} {f.statistic} | {_fmt(f.old)} | "
            f"{_fmt(f.new)} | {len(f.drivers)} |"
            for f in key
        ]
    lines.append("\nDetails: `ildwh diff` or `select * from ops.cohort_changes`.")
    return "\n".join(lines)


def notify_changes(
    d: DiffResult, logger: logging.Logger | None = None, block_name: str | None = None
) -> bool:
    """Send material changes through the saved Prefect notification block named by
    `$ILDWH_NOTIFY_BLOCK` as `<block-type-slug>/<block-name>` (e.g. `slack-webhook/ildwh-nightly`
    for a saved SlackWebhook). Not set: nothing is sent and the log says so. Returns True when
    sent."""
    log = logger or logging.getLogger(__name__)
    name = block_name or os.environ.get(NOTIFY_ENV)
    if not d.material:
        log.info("no material change since run %s: nothing to notify", d.run_from)
        return False
    if not name:
        log.info(
            "material changes since run %s; no notification sent (%s not set)",
            d.run_from,
            NOTIFY_ENV,
        )
        return False
    from prefect.blocks.core import Block

    block = Block.load(name)
    block.notify(render_markdown(d, max_rows=10), subject=f"ildwh: what changed in run {d.run_to}")
    log.info("material changes notified through block %s", name)
    return True


def diff_cli(
    paths, run_from: str | None, run_to: str | None, as_json: bool, threshold: float = 0.01
) -> int:
    """`ildwh diff [--from RUN] [--to RUN] [--json]` on `<home>/warehouse/analytics.duckdb`."""
    d = compute_diff(paths.analytics_db, run_from, run_to, threshold)
    if as_json:
        print(json.dumps(d.to_dict(), indent=2, default=str))
    else:
        print(render_text(d))
    return 0


def summarise_publication(
    analytics_db: Path, run_id: str, logger: logging.Logger | None = None
) -> tuple[str, bool | None]:
    """After a publication (the nightly flow): the run summary's "what changed" markdown and
    whether the changes are material; material changes are notified (see `notify_changes`).
    Returns ("", None) for the first publication."""
    log = logger or logging.getLogger(__name__)
    try:
        d = compute_diff(analytics_db, None, run_id)
    except IldwhError as exc:
        log.info("no run-to-run diff: %s", exc)
        return "", None
    try:
        notify_changes(d, log)
    except Exception as exc:  # a missing or broken block must not fail a published run
        log.error(
            "notification through block %r failed: %s (fix: save the block, e.g. "
            "SlackWebhook(url=...).save(%r), or unset %s)",
            os.environ.get(NOTIFY_ENV),
            exc,
            os.environ.get(NOTIFY_ENV),
            NOTIFY_ENV,
        )
    return render_markdown(d), d.material
