"""One more DELTA drop with known clinical changes, for "what changed last night" (`ildwh diff`).

`write_scenario_drop(extract_root, drop_id)` appends a contract-valid delta drop to an extract the
generator wrote, reading only the delivered files and `_truth/patients.csv` (not generator
internals), and updates `_truth/` so it stays "what a correct pipeline computes after the last drop":

- `add_adm`: a brand-new ADM-NSIP patient (patients row, J84.1 and M33.1 diagnoses in the study
  window, HRCT consensus NSIP at index, a present GOTTRON_SIGN, normal CK, baseline labs including
  LDH, vital status alive).
- `lab_correction`: the baseline LDH result of an analysed control patient (truth LDH <= 211 U/L,
  below the ROC cutoff ~235.5) re-delivered under the same record_id with a later updated_at and
  400 U/L. The baseline record is re-derived from the files: the patient is chosen so that exactly
  one current, usable LDH result lies within [-30, +30] days of index and its value equals the truth
  baseline, so it is the baseline whatever the treatment start.
- `delete_diagnosis`: every current ILD diagnosis row (J84, J99.1, M05.1) of one analysed
  control-NSIP patient re-delivered with `is_deleted = 1`: the patient is no longer screened.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ildwh import IldwhError
from ildwh.config import DBT_PROJECT_DIR
from ildwh.contract import TABLES

SCENARIOS = ("add_adm", "lab_correction", "delete_diagnosis")
SOURCE_SYSTEM = "HIS/LIS/RIS export v3 (ildwh synthetic scenario)"
ILD_PREFIXES = ("J84", "J99.1", "M05.1")
LDH_FACTORS = {"u/l": 1.0, "iu/l": 1.0, "ukat/l": 60.0}
CORRECTED_LDH = 400.0
ROC_CUTOFF = 235.5
LDH_ULN = 211.0
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y年%m月%d日",
)
DROP_ID_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{6})?$")


# ---------------------------------------------------------------- reading the delivered files
def _drops(root: Path) -> list[tuple[str, dict]]:
    out = []
    for m in sorted(root.glob("*/manifest.json")):
        out.append((m.parent.name, json.loads(m.read_text(encoding="utf-8"))))
    return sorted(out, key=lambda d: d[0])


def _read_table(root: Path, drops: list[tuple[str, dict]], table: str) -> list[dict]:
    """Every delivered row of `table` (lower-case contract keys), in drop order, with `_drop`."""
    rows: list[dict] = []
    for k, (drop, manifest) in enumerate(drops):
        for f in manifest.get("files", []):
            if f.get("table") != table:
                continue
            raw = (root / drop / f["name"]).read_bytes()
            if f["name"].endswith(".gz"):
                raw = gzip.decompress(raw)
            text = raw.decode(manifest.get("encoding", "utf-8")).lstrip("\ufeff")
            reader = csv.reader(io.StringIO(text, newline=""))
            header = [h.strip().lower() for h in next(reader)]
            for vals in reader:
                if len(vals) != len(header):
                    continue  # malformed (quarantined by the loader) or a trailing blank line
                r = dict(zip(header, vals, strict=True))
                r["_drop"], r["_k"] = drop, k
                rows.append(r)
    return rows


def _ts(text: str) -> dt.datetime | None:
    t = (text or "").strip()
    if t.endswith("+08:00"):
        t = t[:-6]
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(t, fmt)
        except ValueError:
            continue
    return None


def _current(rows: list[dict]) -> list[dict]:
    """Current state (contract): latest updated_at per record_id, ties to the later drop."""
    best: dict[str, tuple] = {}
    for i, r in enumerate(rows):
        u = _ts(r["updated_at"])
        if u is None or not r["record_id"].strip():
            continue
        key = (u, r["_k"], i)
        rid = r["record_id"].strip()
        if rid not in best or key > best[rid][0]:
            best[rid] = (key, r)
    return [r for _, r in best.values() if r.get("is_deleted", "").strip() != "1"]


def _mrn(text: str) -> str:
    return text.strip().upper()


def _icd(code: str) -> str:
    c = re.sub(r"\s+", "", code or "").upper()
    return re.sub(r"^([A-Z][0-9]{2})([0-9A-Z])", r"\1.\2", c)


def _number(text: str) -> float | None:
    t = re.sub(r"\s+", "", text or "").replace(",", ".")
    return float(t) if re.fullmatch(r"[0-9]+(\.[0-9]+)?", t) else None


def _ldh_codes() -> set[str]:
    with open(DBT_PROJECT_DIR / "seeds" / "lab_codes.csv", encoding="utf-8") as fh:
        return {
            r["test_code"].strip().upper()
            for r in csv.DictReader(fh)
            if (r.get("analyte") or "").strip() == "LDH"
        }


# ---------------------------------------------------------------- writing the drop
def _extracted_at(drop_id: str, drops: list[tuple[str, dict]]) -> dt.datetime:
    if not DROP_ID_RE.match(drop_id):
        raise IldwhError(
            f"scenario drop id {drop_id!r}: use YYYY-MM-DD or YYYY-MM-DDTHHMMSS "
            "(raw-extract-contract.md, Deliveries)"
        )
    at = (
        dt.datetime.strptime(drop_id, "%Y-%m-%dT%H%M%S")
        if "T" in drop_id
        else dt.datetime.strptime(drop_id + " 02:00", "%Y-%m-%d %H:%M")
    )
    for d, m in drops:
        prev = dt.datetime.fromisoformat(m["extracted_at"]).replace(tzinfo=None)
        if d >= drop_id or prev >= at:
            raise IldwhError(
                f"scenario drop {drop_id}: must come after every existing drop, but "
                f"{d}/manifest.json (extracted_at {m['extracted_at']}) does not "
                "precede it; choose a later drop id"
            )
    return at


def _write_drop(
    root: Path, drop_id: str, at: dt.datetime, rows: dict[str, list[list[str]]]
) -> dict:
    d = root / drop_id
    d.mkdir(parents=True, exist_ok=False)
    files = []
    for table in TABLES:
        if not rows.get(table):
            continue
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(TABLES[table])
        w.writerows(rows[table])
        data = buf.getvalue().encode("utf-8")
        (d / f"{table}.csv").write_bytes(data)
        files.append(
            {
                "name": f"{table}.csv",
                "table": table,
                "rows": len(rows[table]),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    manifest = {
        "drop_id": drop_id,
        "kind": "delta",
        "extracted_at": at.strftime("%Y-%m-%dT%H:%M:%S") + "+08:00",
        "source_system": SOURCE_SYSTEM,
        "encoding": "utf-8",
        "files": files,
    }
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


# ---------------------------------------------------------------- the scenarios
def _add_adm(rng, truth: pd.DataFrame, tag: str, upd: str, out: dict) -> dict:
    taken = set(truth["mrn"].map(_mrn))
    n = int(rng.integers(0, 1_000_000))
    while f"SC{n:09d}" in taken:
        n += 1
    mrn = f"SC{n:09d}"
    index = dt.date(2019, 1, 1) + dt.timedelta(days=int(rng.integers(0, 900)))
    age = int(rng.integers(45, 70))
    birth = dt.date(index.year - age, 1, 1) - dt.timedelta(days=int(rng.integers(0, 300)))
    last_contact = dt.date(2022, 12, 1)
    ids: dict[str, list[str]] = {}

    def rid(table: str) -> str:
        ids.setdefault(table, [])
        r = f"{table[:2].upper()}-{tag}-{len(ids[table]) + 1:03d}"
        ids[table].append(r)
        return r

    def day(off: int) -> str:
        return (index + dt.timedelta(days=off)).isoformat()

    out["patients"].append(
        [
            rid("patients"),
            mrn,
            "测试患者",
            "330200" + birth.strftime("%Y%m%d") + "0000",
            "13800000000",
            "F",
            birth.isoformat(),
            "never",
            upd,
            "0",
        ]
    )
    out["diagnoses"] += [
        [rid("diagnoses"), mrn, day(0), "J84.1", "ILD", "respiratory", "admission", upd, "0"],
        [
            rid("diagnoses"),
            mrn,
            day(-10),
            "M33.1",
            "皮肌炎 (amyopathic)",
            "rheumatology",
            "outpatient",
            upd,
            "0",
        ],
    ]
    out["imaging"].append(
        [
            rid("imaging"),
            mrn,
            day(2),
            "HRCT",
            "consensus",
            "NSIP",
            "Bilateral lower-lobe GGO, subpleural",
            upd,
            "0",
        ]
    )
    out["clinical_findings"].append(
        [rid("clinical_findings"), mrn, day(-5), "GOTTRON_SIGN", "1", "dermatology", upd, "0"]
    )
    labs = (
        ("HEM001", "WBC", "6.50", "10^9/L", "3.5-9.5", "wbc_10e9_per_l", 6.5),
        ("HEM004", "LYM#", "1.20", "10^9/L", "1.1-3.2", "lymphocyte_10e9_per_l", 1.2),
        ("HEM002", "HGB", "128", "g/L", "115-150", "hb_g_per_l", 128.0),
        ("HEM003", "PLT", "240", "10^9/L", "125-350", "plt_10e9_per_l", 240.0),
        ("BIO010", "ALB", "36.0", "g/L", "40-55", "alb_g_per_l", 36.0),
        ("BIO001", "ALT", "28", "U/L", "7-40", "alt_u_per_l", 28.0),
        ("BIO002", "AST", "33", "U/L", "13-35", "ast_u_per_l", 33.0),
        ("BIO020", "CK", "80", "U/L", "26-190", "ck_u_per_l", 80.0),
        ("BIO022", "LDH", "320", "U/L", "106-211", "ldh_u_per_l", 320.0),
        ("AUT001", "ANA", "1:320", "", "", "ana_positive", 1.0),
        ("MYO001", "Anti-MDA5", "-", "", "", "anti_mda5", 0.0),
    )
    values = {}
    for code, name, text, unit, ref, col, v in labs:
        out["lab_results"].append(
            [
                rid("lab_results"),
                mrn,
                day(-1) + " 08:00:00",
                code,
                name,
                text,
                unit,
                ref,
                "",
                upd,
                "0",
            ]
        )
        values[col] = v
    out["vital_status"].append(
        [rid("vital_status"), mrn, last_contact.isoformat(), "alive", "", "record", upd, "0"]
    )
    expected = {
        "screened": 1,
        "index_date": index.isoformat(),
        "hrct_pattern": "NSIP",
        "exit_reason": "analysed",
        "analysis_group": "ADM-NSIP",
        "control_diagnosis": None,
        "event": 0,
        "time_days": float((last_contact - index).days),
        "is_adm": 1,
        "age_years": float(age),
        "male": 0,
        "smoking_history": 0,
        "systemic_symptoms": 0,
        "gottron_sign": 1,
        "heliotrope_rash": 0,
        "minor_cutaneous": 0,
        "mechanic_hands": 0,
        "v_sign": 0,
        "cutaneous_ulcer": 0,
        "poikiloderma": 0,
        "holster_sign": 0,
        "ldh_above_normal": 1,
        **values,
    }
    return {"mrn": mrn, "record_ids": ids, "expected": expected}


def _lab_correction(rng, truth, labs, skip: set[str], upd: str, out: dict) -> dict:
    ldh_codes = _ldh_codes()
    cur = [r for r in _current(labs) if r["test_code"].strip().upper() in ldh_codes]
    by_mrn: dict[str, list[dict]] = {}
    for r in cur:
        by_mrn.setdefault(_mrn(r["mrn"]), []).append(r)
    cands = []
    for t in truth.itertuples():
        if (
            t.exit_reason != "analysed"
            or t.analysis_group not in ("control-OP", "control-NSIP")
            or _mrn(t.mrn) in skip
            or pd.isna(t.ldh_u_per_l)
            or float(t.ldh_u_per_l) > LDH_ULN
        ):
            continue
        index = dt.date.fromisoformat(t.index_date)
        in_window = []
        for r in by_mrn.get(_mrn(t.mrn), []):
            at, v = _ts(r["collected_at"]), _number(r["result_text"])
            f = LDH_FACTORS.get(r["unit"].strip().lower().replace("µ", "u"))
            if at is None or v is None or f is None or abs((at.date() - index).days) > 30:
                continue
            in_window.append((r, v * f))
        if len(in_window) == 1 and abs(in_window[0][1] - float(t.ldh_u_per_l)) < 0.6:
            cands.append((0 if t.analysis_group == "control-OP" else 1, t.mrn, in_window[0][0]))
    if not cands:
        raise IldwhError(
            "lab_correction: no analysed control patient with exactly one usable "
            "baseline LDH result <= 211 U/L in the extract; generate a larger one"
        )
    cands.sort(key=lambda c: (c[0], c[1]))
    best = [c for c in cands if c[0] == cands[0][0]]
    _, mrn, row = best[int(rng.integers(len(best)))]
    new = [
        row["record_id"],
        row["mrn"],
        row["collected_at"],
        row["test_code"],
        row["test_name"],
        f"{CORRECTED_LDH:.0f}",
        "U/L",
        "106-211",
        "H",
        upd,
        "0",
    ]
    out["lab_results"].append(new)
    old = float(truth.loc[truth["mrn"] == mrn, "ldh_u_per_l"].iloc[0])
    return {
        "mrn": mrn,
        "record_ids": {"lab_results": [row["record_id"].strip()]},
        "expected": {
            "ldh_u_per_l": CORRECTED_LDH,
            "ldh_above_normal": 1,
            "old_ldh_u_per_l": old,
            "crosses_roc_cutoff": old <= ROC_CUTOFF,
            "analysis_group": str(truth.loc[truth["mrn"] == mrn, "analysis_group"].iloc[0]),
        },
    }


def _delete_diagnosis(rng, truth, dxs, skip: set[str], upd: str, out: dict) -> dict:
    ild: dict[str, list[dict]] = {}
    for r in _current(dxs):
        if _icd(r["icd10_code"]).startswith(ILD_PREFIXES) and _ts(r["dx_date"]) is not None:
            ild.setdefault(_mrn(r["mrn"]), []).append(r)
    cands = sorted(
        t.mrn
        for t in truth.itertuples()
        if t.exit_reason == "analysed"
        and t.analysis_group == "control-NSIP"
        and _mrn(t.mrn) not in skip
        and _mrn(t.mrn) in ild
    )
    if not cands:
        raise IldwhError(
            "delete_diagnosis: no analysed control-NSIP patient with an ILD "
            "diagnosis row in the extract"
        )
    mrn = cands[int(rng.integers(len(cands)))]
    rows = ild[_mrn(mrn)]
    for r in rows:
        out["diagnoses"].append([r[c] for c in TABLES["diagnoses"][:-2]] + [upd, "1"])
    return {
        "mrn": mrn,
        "record_ids": {"diagnoses": sorted(r["record_id"].strip() for r in rows)},
        "expected": {
            "screened": 0,
            "old_analysis_group": "control-NSIP",
            "old_exit_reason": "analysed",
        },
    }


def _check_later(upd_at: dt.datetime, rows: list[dict], ids: set[str], what: str) -> None:
    for r in rows:
        if r["record_id"].strip() in ids and (_ts(r["updated_at"]) or dt.datetime.min) >= upd_at:
            raise IldwhError(
                f"{what}: record {r['record_id']} already has a version updated at "
                f"{r['updated_at']} (drop {r['_drop']}), not before the scenario "
                "drop; choose a later drop id"
            )


# ---------------------------------------------------------------- truth
def _update_truth(truth_dir: Path, truth: pd.DataFrame, res: dict, manifest: dict) -> None:
    t = truth.copy()
    cols = list(t.columns)
    if "lab_correction" in res:
        r = res["lab_correction"]
        m = t["mrn"] == r["mrn"]
        t.loc[m, "ldh_u_per_l"] = repr(CORRECTED_LDH)
        t.loc[m, "ldh_above_normal"] = "1"
    if "delete_diagnosis" in res:
        m = t["mrn"] == res["delete_diagnosis"]["mrn"]
        for c in cols[1:]:
            t.loc[m, c] = ""
        t.loc[m, "screened"] = "0"
    if "add_adm" in res:
        r = res["add_adm"]
        row = dict.fromkeys(cols, "")
        row["mrn"] = r["mrn"]
        for k, v in r["expected"].items():
            if k in row and v is not None:
                row[k] = v if isinstance(v, str) else repr(float(v)) if k != "screened" else str(v)
        t = pd.concat([t, pd.DataFrame([row])], ignore_index=True)
    t.to_csv(truth_dir / "patients.csv", index=False, lineterminator="\n")
    sp = truth_dir / "summary.json"
    if sp.exists():
        s = json.loads(sp.read_text(encoding="utf-8"))
        scr = t[t["screened"].astype(str).isin(("1", "1.0", "True"))]
        an = scr[scr["exit_reason"] == "analysed"]
        s["n_persons"] = len(t)
        s["n_screened"] = len(scr)
        s["n_analysed"] = len(an)
        s["exit_reasons"] = {k: int(v) for k, v in scr["exit_reason"].value_counts().items()}
        s["groups"] = {k: int(v) for k, v in an["analysis_group"].value_counts().items()}
        cd = an[an["control_diagnosis"].fillna("") != ""]
        s["control_diagnoses"] = {
            f"{g}:{c}": int(v)
            for (g, c), v in cd.groupby(["analysis_group", "control_diagnosis"]).size().items()
        }
        s["deaths"] = {
            g: int(v)
            for g, v in an.groupby("analysis_group")["event"]
            .apply(lambda e: pd.to_numeric(e).sum())
            .items()
        }
        s["n_drops"] = int(s.get("n_drops", 0)) + 1
        s.setdefault("drops", []).append(
            {
                "drop_id": manifest["drop_id"],
                "kind": "delta",
                "encoding": "utf-8",
                "files": {f["name"]: f["rows"] for f in manifest["files"]},
                "scenarios": sorted(res),
            }
        )
        sp.write_text(json.dumps(s, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_scenario_drop(
    extract_root: Path, drop_id: str, scenarios=SCENARIOS, seed: int = 7
) -> dict:
    """Append one delta drop with the named scenarios to a generated extract; update `_truth/`.

    Parameters
    ----------
    extract_root : the extract folder (drop folders and `_truth/`, as `ildwh synth` writes it).
    drop_id : the new drop's id, later than every existing drop (`YYYY-MM-DD[THHMMSS]`).
    scenarios : any of "add_adm", "lab_correction", "delete_diagnosis".
    seed : picks the patients and the new patient's dates (same seed, same drop).

    Returns
    -------
    dict
        {scenario: {"mrn": ..., "record_ids": {table: [record_id, ...]}, "expected": {...}}};
        `_truth/patients.csv` and `_truth/summary.json` are updated to the state after the drop.
    """
    root = Path(extract_root)
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        raise IldwhError(f"write_scenario_drop: unknown scenario(s) {unknown}; known {SCENARIOS}")
    truth_path = root / "_truth" / "patients.csv"
    if not truth_path.exists():
        raise IldwhError(
            f"{truth_path} does not exist: generate the extract first (`ildwh synth --out {root}`)"
        )
    drops = _drops(root)
    at = _extracted_at(drop_id, drops)
    upd_at = at - dt.timedelta(hours=1)
    upd = upd_at.strftime("%Y-%m-%d %H:%M:%S")
    truth = pd.read_csv(truth_path, dtype=str, keep_default_na=False)
    truth_num = truth.replace("", np.nan)
    rng = np.random.default_rng(seed)
    rows: dict[str, list[list[str]]] = {t: [] for t in TABLES}
    res: dict[str, dict] = {}
    tag = drop_id.replace("-", "").replace("T", "")
    if "delete_diagnosis" in scenarios:
        dxs = _read_table(root, drops, "diagnoses")
        res["delete_diagnosis"] = _delete_diagnosis(rng, truth_num, dxs, set(), upd, rows)
        _check_later(
            upd_at, dxs, set(res["delete_diagnosis"]["record_ids"]["diagnoses"]), "delete_diagnosis"
        )
    if "lab_correction" in scenarios:
        skip = {_mrn(r["mrn"]) for r in res.values()}
        labs = _read_table(root, drops, "lab_results")
        res["lab_correction"] = _lab_correction(rng, truth_num, labs, skip, upd, rows)
        _check_later(
            upd_at, labs, set(res["lab_correction"]["record_ids"]["lab_results"]), "lab_correction"
        )
    if "add_adm" in scenarios:
        res["add_adm"] = _add_adm(rng, truth, tag, upd, rows)
    manifest = _write_drop(root, drop_id, at, rows)
    _update_truth(root / "_truth", truth, res, manifest)
    return res
