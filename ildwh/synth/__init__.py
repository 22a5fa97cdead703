"""Synthetic EHR extract generator (`ildwh synth`): drops that follow the raw extract contract, and
the truth (`_truth/`) that a correct pipeline must compute from them. See `README.md` here."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ildwh import IldwhError
from ildwh.synth import params as P
from ildwh.synth.cohort import plan_block
from ildwh.synth.events import Block
from ildwh.synth.others import build_background, build_excluded
from ildwh.synth.persons import build_analysed
from ildwh.synth.render import DESIGNATED, QUARANTINE, Renderer, junk_row
from ildwh.synth.truth import compute
from ildwh.synth.writer import SOURCE_SYSTEM, DropWriter

DEFAULT_RATES = {
    # per data row of a file: rows the loader must quarantine, and exact duplicates
    "quarantine": 0.0002,
    "exact_duplicate": 0.001,
    # per background person: value-level problems that staging keeps with a status
    "unmapped_lab_code": 0.02,
    "unit_not_convertible": 0.01,
    "implausible_value": 0.01,
    "non_numeric_result": 0.02,
    "qualified_result": 0.02,
}
TRUTH_COLUMNS = (
    [
        "mrn",
        "screened",
        "index_date",
        "hrct_pattern",
        "exit_reason",
        "analysis_group",
        "control_diagnosis",
        "event",
        "time_days",
        "is_adm",
        "age_years",
    ]
    + list(P.BASELINE_COLUMN.values())
    + [
        "oi_mmhg",
        "fev1_pct_pred",
        "fvc_pct_pred",
        "dlco_pct_pred",
        "male",
        "smoking_history",
        "systemic_symptoms",
        "ana_positive",
    ]
    + ["anti_" + a.lower() for a in P.ANTIBODIES]
    + [
        "heliotrope_rash",
        "gottron_sign",
        "minor_cutaneous",
        "mechanic_hands",
        "v_sign",
        "cutaneous_ulcer",
        "poikiloderma",
        "holster_sign",
        "ldh_above_normal",
    ]
)
FILE_DEFECTS = (
    ("bom", "patients", 1),
    ("crlf_line_ends", "diagnoses", 1),
    ("trailing_blank_lines", "clinical_findings", 1),
    ("gzip_file", "lab_results", 1),
    ("column_order_changed", "lab_results", 2),
    ("extra_column", "lab_results", 2),
    ("header_case_and_spaces", "imaging", 2),
    ("gb18030_drop", "", 2),
    ("table_omitted", "pulmonary_function", 2),
)


# data defects (defects.csv); every other planted kind is a decoy or convention (decoys.csv)
DEFECT_KINDS = (
    *QUARANTINE,
    "exact_duplicate",
    "unmapped_lab_code",
    "unit_not_convertible",
    "non_numeric_result",
    "implausible_value",
    "redelivered_record",
    "deleted_record",
    "merged_patient",
)
# version variants are reported as redelivered_record, the variant named in the detail
VERSION_KINDS = ("changed_value_delta", "stale_redelivery", "same_updated_at_later_drop")


class _Log:
    """Routes planted kinds to defects.csv or decoys.csv (same columns)."""

    HEADER = ["drop_id", "table", "record_id", "line", "kind", "detail"]

    def __init__(self, defects, decoys):
        self.defects, self.decoys = defects, decoys
        defects.writerow(self.HEADER)
        decoys.writerow(self.HEADER)

    def writerow(self, row: list) -> None:
        kind = row[4]
        if kind in VERSION_KINDS:
            row = [*row[:4], "redelivered_record", f"{kind}: {row[5]}"]
        (self.defects if row[4] in DEFECT_KINDS else self.decoys).writerow(row)


def drop_id(k: int) -> str:
    return (P.FIRST_DROP + P.dt.timedelta(days=k - 1)).isoformat()


def generate(
    out: Path, seed: int = 20240101, scale: int = 1, drops: int = 2, background: int = 3, **rates
) -> dict:
    """Write `drops` drops and `_truth/` under `out`; return a summary.

    Parameters
    ----------
    out : extract root to write (drop folders `2023-01-15`, `2023-01-16`, ... and `_truth/`).
    seed : random seed; the same seed gives byte-identical files.
    scale : every cohort count times `scale` (the cohort is generated in `scale` blocks).
    drops : 1 full drop, then `drops - 1` delta drops.
    background : persons who must never be screened, per screened patient.
    **rates : override `DEFAULT_RATES` (defect rates).
    """
    if scale < 1 or drops < 1 or background < 0:
        raise IldwhError(
            f"ildwh synth: scale ({scale}) and drops ({drops}) must be >= 1 and "
            f"background ({background}) >= 0; fix the command-line arguments"
        )
    unknown = sorted(set(rates) - set(DEFAULT_RATES))
    if unknown:
        raise IldwhError(f"ildwh synth: unknown rate(s) {unknown}; known: {sorted(DEFAULT_RATES)}")
    rates = {**DEFAULT_RATES, **rates}
    out = Path(out)
    _clear(out)
    truth_dir = out / "_truth"
    truth_dir.mkdir(parents=True)
    writers = [DropWriter(out, k, drops, drop_id(k)) for k in range(1, drops + 1)]
    counts: dict[str, int] = {}
    n_persons = 0
    with (
        open(truth_dir / "patients.csv", "w", newline="", encoding="utf-8") as tf,
        open(truth_dir / "defects.csv", "w", newline="", encoding="utf-8") as df,
        open(truth_dir / "decoys.csv", "w", newline="", encoding="utf-8") as cf,
    ):
        tw = csv.writer(tf, lineterminator="\n")
        dw = _Log(csv.writer(df, lineterminator="\n"), csv.writer(cf, lineterminator="\n"))
        tw.writerow(TRUTH_COLUMNS)
        for kind, table, k in FILE_DEFECTS:
            if k <= drops:
                dw.writerow([drop_id(k), table, "", "", kind, "file-level convention"])
        for block in range(scale):
            rng = np.random.default_rng([seed, block])
            people = plan_block(rng, block, background)
            b = Block(rng, block, drops)
            for p in people:
                if p.exit == "analysed":
                    build_analysed(b, p)
                elif p.screened:
                    build_excluded(b, p)
                else:
                    build_background(b, p, rates)
            truth = compute(b.rows)
            _check(people, truth, block)
            _write_truth(tw, truth)
            for key, v in _count(truth).items():
                counts[key] = counts.get(key, 0) + v
            n_persons += len(people)
            bg = {p.mrn for p in people if not p.screened}
            _render_block(rng, b, writers, bg, rates, dw, block)
    manifests = [w.close(f"{drop_id(w.k)}T02:00:00+08:00") for w in writers]
    summary = {
        "n_drops": drops,
        "n_persons": n_persons,
        "n_screened": counts.get("screened", 0),
        "n_analysed": counts.get("exit:analysed", 0),
        "exit_reasons": {k[5:]: v for k, v in counts.items() if k.startswith("exit:")},
        "groups": {k[6:]: v for k, v in counts.items() if k.startswith("group:")},
        "control_diagnoses": {k[4:]: v for k, v in counts.items() if k.startswith("cdx:")},
        "deaths": {k[6:]: v for k, v in counts.items() if k.startswith("death:")},
        "parameters": {
            "seed": seed,
            "scale": scale,
            "drops": drops,
            "background": background,
            "rates": rates,
        },
        "drops": [
            {
                "drop_id": m["drop_id"],
                "kind": m["kind"],
                "encoding": m["encoding"],
                "files": {f["name"]: f["rows"] for f in m["files"]},
            }
            for m in manifests
        ],
    }
    (truth_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return summary


def _clear(out: Path) -> None:
    """Remove what an earlier run of the generator wrote here (its drops and truth), nothing else."""
    if not out.exists():
        return
    for d in sorted(out.iterdir()):
        m = d / "manifest.json"
        ours = d.name == "_truth" or (
            m.is_file()
            and str(json.loads(m.read_text(encoding="utf-8")).get("source_system", "")).startswith(
                SOURCE_SYSTEM[:-1]
            )
        )
        if d.is_dir() and ours:
            shutil.rmtree(d)
        elif d.is_dir() and m.is_file():
            raise IldwhError(
                f"{out}: holds a drop {d.name} the generator did not write; "
                "choose an empty --out folder"
            )


def _check(people, truth: pd.DataFrame, block: int) -> None:
    t = truth.set_index("mrn")
    bad = []
    for p in people:
        if p.mrn not in t.index:
            bad.append(f"{p.mrn}: missing from truth")
            continue
        r = t.loc[p.mrn]
        if bool(r["screened"]) != p.screened or (p.screened and r["exit_reason"] != p.exit):
            bad.append(
                f"{p.mrn} (variant {p.variant}): planned {p.exit}, protocol gives "
                f"{r['exit_reason'] if r['screened'] else 'not screened'}"
            )
        elif p.exit == "analysed" and (
            r["analysis_group"] != p.group
            or (None if pd.isna(r["control_diagnosis"]) else r["control_diagnosis"]) != p.control_dx
        ):
            bad.append(
                f"{p.mrn}: planned {p.group}/{p.control_dx}, protocol gives "
                f"{r['analysis_group']}/{r['control_diagnosis']}"
            )
    if bad:
        raise IldwhError(
            f"ildwh synth: block {block}: the rows do not give the planned cohort "
            f"(a generator bug; report it): {bad[:5]}"
        )


def _count(truth: pd.DataFrame) -> dict[str, int]:
    c: dict[str, int] = {"screened": int(truth["screened"].sum())}
    s = truth[truth["screened"]]
    for k, v in s["exit_reason"].value_counts().items():
        c[f"exit:{k}"] = int(v)
    a = s[s["exit_reason"] == "analysed"]
    for k, v in a["analysis_group"].value_counts().items():
        c[f"group:{k}"] = int(v)
    for (g, k), v in a.groupby(["analysis_group", "control_diagnosis"]).size().items():
        c[f"cdx:{g}:{k}"] = int(v)
    for k, v in a.groupby("analysis_group")["event"].sum().items():
        c[f"death:{k}"] = int(v)
    return c


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return ""
    if isinstance(v, bool | np.bool_):
        return str(int(v))
    if isinstance(v, float | np.floating):
        return repr(round(float(v), 6))
    return str(v)


def _write_truth(tw, truth: pd.DataFrame) -> None:
    t = truth.copy()
    t["index_date"] = [
        (P.EPOCH + P.dt.timedelta(days=int(d))).isoformat() if s else ""
        for d, s in zip(t["index_day"].fillna(0), t["screened"], strict=True)
    ]
    t["screened"] = t["screened"].astype(int)
    for c in TRUTH_COLUMNS:
        if c not in t.columns:
            t[c] = None
    for row in t[TRUTH_COLUMNS].itertuples(index=False):
        tw.writerow([_fmt(v) for v in row])


def _render_block(rng, b: Block, writers, bg: set[str], rates, dw, block: int) -> None:
    rd = Renderer(rng, bg)
    from ildwh.synth.events import COMORBID

    comorbid = {c for c, _ in COMORBID}
    for table, rows in b.rows.items():
        per_drop: dict[int, list] = {}
        for r in rows:
            per_drop.setdefault(r[-5], []).append((rd.row(table, r), r[-2], r[-1]))
        harmless = [
            r
            for r in rows
            if r[1] in bg
            and r[-2] == ""
            and r[-5] == 1
            and (table != "diagnoses" or r[3] in comorbid)
        ]
        bases = [rd.row(table, r) for r in harmless[:500]]
        nq = 0
        for w in writers:
            sink = w.sinks.get(table)
            items = per_drop.get(w.k, [])
            if sink is None:
                if items:
                    raise IldwhError(
                        f"ildwh synth: {table} rows planned for omitted drop {w.drop_id}"
                    )
                continue
            if bases:
                for kind in QUARANTINE:
                    if kind == "unknown_finding_code" and table != "clinical_findings":
                        continue
                    n = int(rng.binomial(max(len(items), 1), rates["quarantine"]))
                    if w.k == 1 and table in DESIGNATED[kind]:
                        n = max(n, 1)
                    for _ in range(n):
                        nq += 1
                        rid = f"Q{b.block:04d}{table[:2].upper()}{nq:05d}"
                        row = junk_row(
                            rd, table, bases[nq % len(bases)], kind, rid
                        )  # distinct bases
                        items.insert(
                            int(rng.integers(0, len(items) + 1)),
                            (row, kind, "quarantine: " + kind.replace("_", " ")),
                        )
            ndup = int(rng.binomial(max(len(items), 1), rates["exact_duplicate"]))
            if w.k == 1 and table in ("lab_results", "diagnoses", "imaging") and items:
                ndup = max(ndup, 1)
            for _ in range(ndup):
                i = int(rng.integers(0, len(items)))
                if len(items[i][0]) != len(sink.cols):
                    continue
                items.insert(
                    i + 1, (list(items[i][0]), "exact_duplicate", "second copy in the file")
                )
            if not items:
                continue
            # the extra column's value follows from the row, so a duplicated row stays identical
            extra = (
                [f"XN-{1000 + sum(map(ord, it[0][0])) % 7}" for it in items]
                if sink.style.extra
                else None
            )
            starts = sink.write([it[0] for it in items], extra)
            for (row, kind, detail), line in zip(items, starts, strict=True):
                if kind:
                    dw.writerow([w.drop_id, table, row[0] if row else "", line, kind, detail])
