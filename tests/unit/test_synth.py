"""The synthetic extract generator: counts, calibration, determinism, manifests, defects, and the
truth recomputed from the delivered files themselves (read per the contract, not via the renderer).
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
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter

from ildwh import IldwhError
from ildwh.config import PUBLISHED_RESULTS
from ildwh.contract import (
    DATE_COLUMNS,
    DATE_FORMATS,
    FINDING_CODES,
    OPTIONAL_DATE_COLUMNS,
    TABLES,
)
from ildwh.synth import generate
from ildwh.synth import truth as T

PUB = json.loads(PUBLISHED_RESULTS.read_text(encoding="utf-8"))
GROUPS = ("ADM-NSIP", "control-NSIP", "ADM-OP", "control-OP")
README = Path(__file__).resolve().parents[2] / "ildwh" / "synth" / "README.md"


@pytest.fixture(scope="module")
def ext1(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth1")
    generate(out, seed=12345, scale=1, drops=2, background=3)
    return out


@pytest.fixture(scope="module")
def ext5(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth5")
    generate(out, seed=12345, scale=5, drops=2, background=1)
    return out


def truth(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "_truth" / "patients.csv", dtype={"mrn": str})


def analysed(out: Path) -> pd.DataFrame:
    t = truth(out)
    return t[t["exit_reason"] == "analysed"]


def _counts(t: pd.DataFrame, k: int) -> None:
    s = t[t["screened"] == 1]
    assert len(s) == 382 * k
    ex = s["exit_reason"].value_counts().to_dict()
    assert ex == {
        "analysed": 190 * k,
        "pattern_not_nsip_op": 142 * k,
        "iim_muscle_involvement": 19 * k,
        "malignancy": 10 * k,
        "multiple_ctd": 4 * k,
        "prior_treatment": 15 * k,
        "drug_induced": 2 * k,
    }
    a = s[s["exit_reason"] == "analysed"]
    assert a["analysis_group"].value_counts().to_dict() == {
        "control-NSIP": 92 * k,
        "ADM-NSIP": 46 * k,
        "control-OP": 29 * k,
        "ADM-OP": 23 * k,
    }
    got = a.groupby(["analysis_group", "control_diagnosis"]).size().to_dict()
    exp = {
        ("control-NSIP", d): n * k
        for d, n in {
            "RA": 13,
            "pSS": 17,
            "SSc": 11,
            "SLE": 7,
            "MCTD": 3,
            "IIP": 13,
            "MPA": 17,
            "IPAF": 11,
        }.items()
    }
    exp.update(
        {("control-OP", d): n * k for d, n in {"COP": 24, "RA": 3, "IPAF": 1, "SLE": 1}.items()}
    )
    assert got == exp
    assert a.loc[a["is_adm"] == 1, "control_diagnosis"].isna().all()
    assert (t["screened"] == 0).sum() == len(t) - 382 * k


def test_counts_scale1(ext1):
    t = truth(ext1)
    _counts(t, 1)
    assert len(t) == 382 * 4
    s = json.loads((ext1 / "_truth" / "summary.json").read_text())
    assert (s["n_screened"], s["n_analysed"], s["n_persons"], s["n_drops"]) == (382, 190, 1528, 2)


def test_counts_scale2_three_drops_and_one_drop(tmp_path):
    s = generate(tmp_path / "a", seed=7, scale=2, drops=3, background=1)
    _counts(truth(tmp_path / "a"), 2)
    assert [d["kind"] for d in s["drops"]] == ["full", "delta", "delta"]
    s = generate(tmp_path / "b", seed=7, scale=1, drops=1, background=1)
    _counts(truth(tmp_path / "b"), 1)
    assert [d["drop_id"] for d in s["drops"]] == ["2023-01-15"]


def test_determinism(ext1, tmp_path):
    generate(tmp_path, seed=12345, scale=1, drops=2, background=3)

    def digests(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    a, b = digests(ext1), digests(tmp_path)
    assert len(a) == 21 and a == b
    generate(tmp_path, seed=12346, scale=1, drops=2, background=3)
    assert digests(tmp_path) != a


def _flag_counts(a: pd.DataFrame, col: str) -> list[int]:
    return [int(a.loc[a["analysis_group"] == g, col].sum()) for g in GROUPS]


def test_flags_and_table1_counts_exact(ext1):
    a = analysed(ext1)
    rows = PUB["table2"]["rows"]
    assert _flag_counts(a, "male") == [rows["sex_m_f"][i][0] for i in (0, 1, 3, 4)]
    for col, key in (
        ("smoking_history", "smoking_n"),
        ("systemic_symptoms", "systemic_symptoms_n"),
        ("ana_positive", "ana_ge_1_80_n"),
    ):
        assert _flag_counts(a, col) == [rows[key][i] for i in (0, 1, 3, 4)], col
    n_bg = [int(a.loc[a["analysis_group"] == g, "pao2_mmhg"].notna().sum()) for g in GROUPS]
    n_oi = [int(a.loc[a["analysis_group"] == g, "oi_mmhg"].notna().sum()) for g in GROUPS]
    n_pft = [int(a.loc[a["analysis_group"] == g, "dlco_pct_pred"].notna().sum()) for g in GROUPS]
    assert n_bg == n_oi == [39, 59, 17, 21]
    assert n_pft == [29, 52, 14, 9]
    adm = [a[a["analysis_group"] == g] for g in ("ADM-NSIP", "ADM-OP")]
    t1 = PUB["table1"]
    for col, key in (
        ("heliotrope_rash", "heliotrope_rash"),
        ("gottron_sign", "gottron_sign"),
        ("minor_cutaneous", "minor_cutaneous"),
    ):
        assert [int(x[col].sum()) for x in adm] == t1[key][1:], col
    for ab, counts in {**t1["msa"], **t1["maa"]}.items():
        col = "anti_" + ab.lower()
        assert [int(x[col].sum()) for x in adm] == counts[1:], ab
        assert all(x[col].notna().all() for x in adm), ab  # every ADM patient tested
    br = t1["minor_cutaneous_breakdown"]
    got = {
        k: int(sum(x[c].sum() for x in adm))
        for k, c in (
            ("mechanic_hands", "mechanic_hands"),
            ("v_sign", "v_sign"),
            ("cutaneous_ulcers", "cutaneous_ulcer"),
            ("poikiloderma", "poikiloderma"),
            ("holster_sign", "holster_sign"),
        )
    }
    assert got == br
    all_adm = pd.concat(adm)
    assert int(all_adm["ldh_above_normal"].sum()) == 56
    assert int((all_adm["ldh_u_per_l"] > 235.5).sum()) == 51
    ctrl = a[a["is_adm"] == 0]
    assert int((ctrl["ldh_u_per_l"] > 235.5).sum()) == 21


def _calibration(a: pd.DataFrame, tol_sd: float) -> list[tuple]:
    bad = []
    for var, row in PUB["table2"]["rows"].items():
        if var.endswith("_n") or var == "sex_m_f":
            continue
        for g, (m, sd) in zip(GROUPS, (row[0], row[1], row[3], row[4]), strict=True):
            x = a.loc[a["analysis_group"] == g, var].dropna()
            assert (x >= 0).all(), (var, g)
            if abs(x.mean() - m) > tol_sd * sd:
                bad.append((var, g, round(x.mean(), 2), m, sd))
    return bad


def test_calibration_scale1(ext1):
    """Every Table 2 continuous variable: |mean - paper| < 0.5 SD in every group."""
    assert _calibration(analysed(ext1), 0.5) == []


def test_calibration_and_survival_scale5(ext5):
    """Scale 5: means within 0.15 SD; KM 1/3/5-year survival within 0.10 of the paper;
    the ADM Cox model (lifelines) gives hazard ratios above 1 and within a factor 3 of the paper."""
    a = analysed(ext5)
    _counts(truth(ext5), 5)
    assert _calibration(a, 0.15) == []
    for g in GROUPS:
        d = a[a["analysis_group"] == g]
        km = KaplanMeierFitter().fit(d["time_days"] / 30.4375, d["event"])
        got = [float(km.predict(m)) for m in (12, 36, 60)]
        np.testing.assert_allclose(got, PUB["survival"]["os_1_3_5_years"][g], atol=0.10, err_msg=g)
    adm = a[a["is_adm"] == 1]
    deaths = int(adm["event"].sum())
    assert 8 * 5 <= deaths <= 24 * 5
    cols = ["age_years", "smoking_history", "anti_mda5", "wbc_10e9_per_l"]
    cph = CoxPHFitter().fit(adm[["time_days", "event", *cols]].dropna(), "time_days", "event")
    mv = PUB["cox_adm"]["multivariate"]
    for c, k in zip(
        cols, ("age_per_year", "smoking", "anti_mda5", "wbc_per_10e9_per_l"), strict=True
    ):
        hr = float(np.exp(cph.params_[c]))
        assert 1 < hr and mv[k]["hr"] / 3 < hr < mv[k]["hr"] * 3, (c, hr)


def _data_rows(raw: bytes, encoding: str) -> list[list[str]]:
    text = raw.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    return [r for r in csv.reader(io.StringIO(text, newline=""))][1:]


def _read(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.name.endswith(".gz") else raw


def test_manifests(ext1):
    drops = sorted(p for p in ext1.iterdir() if p.name != "_truth")
    assert [d.name for d in drops] == ["2023-01-15", "2023-01-16"]
    for d in drops:
        m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        assert m["drop_id"] == d.name
        assert m["kind"] == ("full" if d.name == "2023-01-15" else "delta")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT02:00:00\+08:00", m["extracted_at"])
        assert m["encoding"] == ("utf-8" if d.name == "2023-01-15" else "gb18030")
        names = sorted(p.name for p in d.iterdir() if p.name != "manifest.json")
        assert sorted(f["name"] for f in m["files"]) == names
        for f in m["files"]:
            p = d / f["name"]
            assert hashlib.sha256(p.read_bytes()).hexdigest() == f["sha256"]
            rows = [r for r in _data_rows(_read(p), m["encoding"]) if r]
            assert len(rows) == f["rows"] > 0, f["name"]
    m1 = json.loads((drops[0] / "manifest.json").read_text())
    assert len(m1["files"]) == 8
    assert (drops[0] / "patients.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in (drops[0] / "diagnoses.csv").read_bytes()[:400]


def _readme_kinds(section: str) -> set[str]:
    text = README.read_text(encoding="utf-8").split(section, 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9_]+)`", text, re.M))


def test_every_defect_kind_is_planted_and_located(ext1):
    """defects.csv / decoys.csv hold exactly the kinds the README lists (each at least once)."""
    d = pd.read_csv(ext1 / "_truth" / "defects.csv", dtype=str, keep_default_na=False)
    c = pd.read_csv(ext1 / "_truth" / "decoys.csv", dtype=str, keep_default_na=False)
    assert set(d["kind"]) == _readme_kinds("### Defects"), set(d["kind"]) ^ _readme_kinds(
        "### Defects"
    )
    file_level = {
        "crlf_line_ends",
        "trailing_blank_lines",
        "gzip_file",
        "column_order_changed",
        "extra_column",
        "header_case_and_spaces",
        "gb18030_drop",
        "table_omitted",
    }
    decoys = _readme_kinds("### Decoys") | file_level
    assert set(c["kind"]) == decoys, set(c["kind"]) ^ decoys
    assert d["detail"].str.startswith("changed_value_delta").any()
    assert d["detail"].str.startswith("stale_redelivery").any()
    assert d["detail"].str.startswith("same_updated_at_later_drop").any()
    # the only repeated rows in a file are the planted exact duplicates
    for drop in sorted(p for p in ext1.iterdir() if p.name != "_truth"):
        enc = json.loads((drop / "manifest.json").read_text())["encoding"]
        for f in sorted(drop.glob("*.csv*")):
            rows = [tuple(r) for r in _data_rows(_read(f), enc) if r]
            planted = (
                (d["drop_id"] == drop.name)
                & (d["table"] == f.name.split(".")[0])
                & (d["kind"] == "exact_duplicate")
            ).sum()
            assert len(rows) - len(set(rows)) == planted, f
            width = len(
                next(
                    csv.reader(io.StringIO(_read(f).decode("utf-8-sig" if enc == "utf-8" else enc)))
                )
            )
            malformed = (
                (d["drop_id"] == drop.name)
                & (d["table"] == f.name.split(".")[0])
                & (d["kind"] == "malformed_row")
            ).sum()
            assert sum(len(r) != width for r in rows) == malformed, f
    # each quarantine-type defect row: the physical line named holds that record (or the copy)
    enc = {
        p.name: json.loads((p / "manifest.json").read_text())["encoding"]
        for p in ext1.iterdir()
        if p.name != "_truth"
    }
    quarantine = (
        "malformed_row",
        "exact_duplicate",
        "missing_mrn",
        "bad_updated_at",
        "bad_is_deleted",
        "unparseable_date",
        "future_date",
        "date_before_1900",
        "unknown_finding_code",
    )
    checked = 0
    for r in d[d["kind"].isin(quarantine)].itertuples():
        path = next((ext1 / r.drop_id).glob(r.table + ".csv*"))
        e = enc[r.drop_id]
        lines = _read(path).decode("utf-8-sig" if e == "utf-8" else e).split("\n")
        line = lines[int(r.line) - 1]
        assert r.record_id and r.record_id in line, (r, line)
        if r.kind == "exact_duplicate":
            assert lines[int(r.line) - 2] == line or r.record_id in lines[int(r.line) - 2]
        checked += 1
    assert checked >= 15


def test_bad_arguments(tmp_path):
    with pytest.raises(IldwhError, match="scale"):
        generate(tmp_path, scale=0)
    with pytest.raises(IldwhError, match="unknown rate"):
        generate(tmp_path, typo_rate=0.1)


# ---- the truth recomputed from the files, read the way the contract says ----------------------

SEX = {"m": "M", "male": "M", "男": "M", "1": "M", "f": "F", "female": "F", "女": "F", "2": "F"}
SMOKE = {"从不吸烟": "never", "已戒烟": "former", "吸烟": "current"}
TRUE = {"1", "y", "yes", "true", "是"}
EPOCH = dt.datetime(1970, 1, 1)


def _ts(v: str) -> int | None:
    v = v.strip()
    if v.endswith("+08:00"):
        v = v[:-6]
    for f in DATE_FORMATS:
        try:
            return int((dt.datetime.strptime(v, f) - EPOCH).total_seconds())
        except ValueError:
            pass
    return None


def _semantic(t: str, v: dict, mrn: str, day: dict, dates: dict) -> tuple:
    """Typed fields of one delivered row, as truth.compute reads them."""
    if t == "patients":
        return (
            v["record_id"],
            mrn,
            "",
            "",
            "",
            SEX.get(v["sex"].strip().lower(), "U"),
            day["birth_date"],
            SMOKE.get(v["smoking_status"], v["smoking_status"]),
        )
    if t == "diagnoses":
        return (
            v["record_id"],
            mrn,
            day["dx_date"],
            v["icd10_code"],
            v["dx_text"],
            v["department"],
            v["dx_type"],
        )
    if t == "clinical_findings":
        return (
            v["record_id"],
            mrn,
            day["finding_date"],
            v["finding_code"],
            v["present"].strip().lower() in TRUE,
            v["source_note"],
        )
    if t == "lab_results":
        return (
            v["record_id"],
            mrn,
            dates["collected_at"],
            v["test_code"],
            v["test_name"],
            v["result_text"],
            v["unit"],
            v["ref_range_text"],
            v["abnormal_flag"],
        )
    if t == "pulmonary_function":
        return (
            v["record_id"],
            mrn,
            day["test_date"],
            v["fev1_pct_pred"],
            v["fvc_pct_pred"],
            v["dlco_pct_pred"],
        )
    if t == "imaging":
        return (
            v["record_id"],
            mrn,
            day["study_date"],
            v["modality"],
            v["reader"],
            v["pattern"],
            v["report_text"],
        )
    if t == "medications":
        return (
            v["record_id"],
            mrn,
            v["drug_name"],
            v["atc_code"],
            day["start_date"],
            day["end_date"],
            v["route"],
        )
    return (v["record_id"], mrn, day["status_date"], v["status"], day["death_date"], v["source"])


def _read_drop(d: Path, k: int, rows: dict[str, list]) -> None:
    m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    cutoff = _ts(m["extracted_at"][:19].replace("T", " "))
    for f in m["files"]:
        t = f["table"]
        recs = _data_rows(_read(d / f["name"]), m["encoding"])
        text = _read(d / f["name"]).decode(
            "utf-8-sig" if m["encoding"] == "utf-8" else m["encoding"]
        )
        header = [h.strip().lower() for h in next(csv.reader(io.StringIO(text)))]
        seen = set()
        for r in recs:
            if not r or len(r) != len(header) or tuple(r) in seen:
                continue
            seen.add(tuple(r))
            v = dict(zip(header, r, strict=True))
            upd, dele = _ts(v["updated_at"]), v["is_deleted"].strip()
            if (
                not v["record_id"]
                or not v["mrn"].strip()
                or upd is None
                or dele not in ("", "0", "1")
            ):
                continue
            dates = {}
            ok = True
            for c in DATE_COLUMNS[t]:
                if v[c].strip() == "" and (t, c) in OPTIONAL_DATE_COLUMNS:
                    dates[c] = None
                    continue
                s = _ts(v[c])
                if s is None or s > cutoff or s < _ts("1900-01-01"):
                    ok = False
                    break
                dates[c] = s
            if not ok or (t == "clinical_findings" and v["finding_code"] not in FINDING_CODES):
                continue
            day = {c: (None if s is None else s // 86400) for c, s in dates.items()}
            mrn = v["mrn"].strip().upper()
            f_ = _semantic(t, v, mrn, day, dates)
            rows[t].append((*f_, k, upd, int(dele == "1"), "", ""))


def test_truth_recomputed_from_the_delivered_files(ext1):
    """Read every drop as the contract says (quarantine rules, duplicates, versions, formats,
    encodings), apply the protocol, and get exactly `_truth/patients.csv`."""
    rows: dict[str, list] = {t: [] for t in TABLES}
    for k, d in enumerate(sorted(p for p in ext1.iterdir() if p.name != "_truth"), start=1):
        _read_drop(d, k, rows)
    got = T.compute(rows).set_index("mrn")
    exp = truth(ext1).set_index("mrn")
    s = exp[exp["screened"] == 1].index
    assert set(got.index[got["screened"]]) == set(s)
    for c in ("hrct_pattern", "exit_reason", "analysis_group", "control_diagnosis"):
        pd.testing.assert_series_equal(
            got.loc[s, c].fillna(""),
            exp.loc[s, c].fillna("").astype(str),
            check_names=False,
            check_dtype=False,
        )
    a = exp[exp["exit_reason"] == "analysed"].index
    num = [c for c in exp.columns if exp[c].dtype.kind == "f" and c not in ("screened",)]
    for c in num:
        g = pd.to_numeric(got.loc[a, c], errors="coerce").astype(float)
        e = exp.loc[a, c].astype(float)
        assert (g.isna() == e.isna()).all(), c
        np.testing.assert_allclose(g[e.notna()], e[e.notna()], rtol=1e-6, err_msg=c)
