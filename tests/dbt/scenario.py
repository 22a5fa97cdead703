"""A hand-made raw layer of 12 people, one per path through the protocol, and the answers.

Index date 2020-06-15 unless said otherwise. Every value is chosen so the expected result can be
worked out by hand from study-protocol.md (the arithmetic is in the comments).
"""

from __future__ import annotations

KEY = "dbt-test-key-0123456789"
UPD = "2023-01-10 09:00:00"


def _p(rid, mrn, sex="F", birth="1960-01-01", smoking="never", name="Wang Fang", **kw):
    return dict(
        record_id=rid,
        mrn=mrn,
        name=name,
        id_number="330201196001010000",
        phone="13800000000",
        sex=sex,
        birth_date=birth,
        smoking_status=smoking,
        updated_at=kw.pop("updated_at", UPD),
        is_deleted=kw.pop("is_deleted", "0"),
        **kw,
    )


def _dx(rid, mrn, date, code, **kw):
    return dict(
        record_id=rid,
        mrn=mrn,
        dx_date=date,
        icd10_code=code,
        dx_text="",
        department="respiratory",
        dx_type="discharge",
        updated_at=kw.pop("updated_at", UPD),
        is_deleted=kw.pop("is_deleted", "0"),
        **kw,
    )


def _img(rid, mrn, date, pattern, reader="consensus", modality="HRCT"):
    return dict(
        record_id=rid,
        mrn=mrn,
        study_date=date,
        modality=modality,
        reader=reader,
        pattern=pattern,
        report_text="",
        updated_at=UPD,
        is_deleted="0",
    )


def _lab(rid, mrn, at, code, result, unit="", ref=""):
    return dict(
        record_id=rid,
        mrn=mrn,
        collected_at=at,
        test_code=code,
        test_name="",
        result_text=result,
        unit=unit,
        ref_range_text=ref,
        abnormal_flag="",
        updated_at=UPD,
        is_deleted="0",
    )


def _find(rid, mrn, date, code, present="1"):
    return dict(
        record_id=rid,
        mrn=mrn,
        finding_date=date,
        finding_code=code,
        present=present,
        source_note="",
        updated_at=UPD,
        is_deleted="0",
    )


def _med(rid, mrn, name, atc, start, end=""):
    return dict(
        record_id=rid,
        mrn=mrn,
        drug_name=name,
        atc_code=atc,
        start_date=start,
        end_date=end,
        route="oral",
        updated_at=UPD,
        is_deleted="0",
    )


def _vs(rid, mrn, date, status, death=""):
    return dict(
        record_id=rid,
        mrn=mrn,
        status_date=date,
        status=status,
        death_date=death,
        source="record",
        updated_at=UPD,
        is_deleted="0",
    )


ROWS: dict[str, list[dict]] = {
    "patients": [
        # P01 male, born 1960-06-16: 59 completed years on 2020-06-15 (birthday the next day)
        _p("P01", "MRN001", sex="男", birth="1960-06-16", smoking="已戒烟", name="Li Lei"),
        _p("P02", "MRN002", sex="2", birth="1950/01/01"),
        *[_p(f"P{i:02d}", f"MRN{i:03d}") for i in range(3, 11)],
        # P11 registered twice (merged): the later record (female, current smoker) wins
        _p("P11a", "mrn011", sex="M", smoking="never", updated_at="2023-01-01 00:00:00"),
        _p(
            "P11b",
            " MRN011 ",
            sex="F",
            smoking="吸烟",
            birth="19700301",
            updated_at="2023-01-05 00:00:00",
        ),
    ],
    "diagnoses": [
        _dx("D01", "MRN001", "2020-06-15", "j84.102"),
        _dx("D01b", "MRN001", "2020-07-01", "M33.101"),
        _dx("D02", "MRN002", "2019-01-10 10:30", "J84.1 "),
        _dx("D03", "MRN003", "2020-06-15", "J84.1"),
        _dx("D04", "MRN004", "2020-06-15", "J84.1"),
        _dx("D04b", "MRN004", "2020-03-01", "C34.1"),
        _dx("D05", "MRN005", "2020-06-15", "J84.1"),
        _dx("D05b", "MRN005", "2020-06-15", "M33.1"),
        _dx("D06", "MRN006", "2020-06-15", "M05.1"),
        _dx("D06b", "MRN006", "2020-06-15", "M32.1"),
        _dx("D07", "MRN007", "2020-06-15", "J84.1"),
        _dx("D08", "MRN008", "2020-06-15", "J84.1"),
        _dx("D09", "MRN009", "2016-05-01", "J84.1"),  # prevalent case: not screened
        _dx("D09b", "MRN009", "2020-06-15", "J84.1"),
        _dx("D10", "MRN010", "2020-06-15", "J84.1"),
        _dx(
            "D10",
            "MRN010",
            "2020-06-15",
            "J84.1",
            updated_at="2023-01-11 09:00:00",
            is_deleted="1",
            _drop_id="2023-02-01",
        ),  # deleted in a later drop: not screened
        _dx("D11", "MRN011", "2021年03月01日", "J84.1X01"),
        _dx("D11b", "MRN011", "2021-03-01", "M06.9"),
    ],
    "imaging": [
        _img("I01", "MRN001", "2020-06-10", "NSIP"),
        _img("I02a", "MRN002", "2019-01-12", "COP-like", reader="R1"),
        _img("I02b", "MRN002", "2019-01-12", " op ", reader="R2"),
        _img("I03", "MRN003", "2020-06-15", "UIP"),
        *[_img(f"I{i:02d}", f"MRN{i:03d}", "2020-06-15", "fNSIP") for i in (4, 5, 6, 7, 8, 9, 10)],
        _img("I11", "MRN011", "2021-03-01", "cellular NSIP"),
    ],
    "lab_results": [
        # P01: LDH 5 ukat/L = 300 U/L; PaO2 12 kPa = 90.00744 mmHg with FiO2 21 % -> OI 428.6068571
        _lab("L01", "MRN001", "2020-06-14 08:00", "BIO022", "5", "µkat/L"),
        _lab("L02", "MRN001", "2020-06-15 09:00+08:00", "BG001", "12", "kPa"),
        _lab("L03", "MRN001", "2020-06-15 09:00", "BG010", "21", "%"),
        _lab("L04", "MRN001", "2020-06-16 08:00", "HEM001", "6,9", "10^9/L"),
        _lab("L05", "MRN001", "2020-06-16 08:00", "MYO001", "++"),
        _lab("L06", "MRN001", "2020-06-16 08:00", "MYO008", "弱阳性"),
        _lab("L07", "MRN001", "2020-06-16 08:00", "AUT001", "1:320"),
        _lab("L08", "MRN001", "2020-06-13 08:00", "BIO020", "hemolysed", "U/L"),
        # P02 treated from 2019-01-20: the LDH of 01-21 is after treatment start; 01-05 is baseline
        _lab("L21", "MRN002", "2019-01-05 08:00", "BIO-LDH", "180", "U/L"),
        _lab("L22", "MRN002", "2019-01-21 08:00", "BIO-LDH", "999", "U/L"),
        _lab("L23", "MRN002", "2019-01-05 08:00", "AUT-ANA", "<1:40"),
        # P05: CK 500 U/L with an IIM diagnosis -> exclusion 1
        _lab("L51", "MRN005", "2020-06-15 08:00", "BIO020", "500", "U/L", "26-190"),
    ],
    "clinical_findings": [
        _find("F01", "MRN001", "2020-06-20", "HELIOTROPE_RASH"),
        _find("F02", "MRN001", "2020-06-20", "MECHANIC_HANDS"),
        _find("F03", "MRN001", "2020-06-20", "FEVER", present="0"),
    ],
    "medications": [
        _med("M02", "MRN002", "Prednisone", "H02AB07", "2019-01-20"),
        _med(
            "M04", "MRN004", "prednisone", "H02AB07", "2020-06-01"
        ),  # also malignancy: counts there
        _med("M07", "MRN007", "甲泼尼龙", "", "2020-06-05"),  # by name, day -10
        _med("M08", "MRN008", "adalimumab", "L04AB04", "2019-05-12", "2019-08-01"),
        _med(
            "M11", "MRN011", "pirfenidone", "L04AX05", "2021-01-01"
        ),  # antifibrotic: not a treatment
    ],
    "vital_status": [
        _vs("V01", "MRN001", "2021-06-20", "dead", "2021-06-15"),  # 365 days, event
        _vs("V02", "MRN002", "2022-06-01", "alive"),  # 2019-01-10 -> 2022-06-01 = 1238 days
        _vs(
            "V11", "MRN011", "2023-03-01", "dead", "2023-02-01"
        ),  # after admin end: censored 2022-12-31
    ],
    "pulmonary_function": [
        dict(
            record_id="PF1",
            mrn="MRN001",
            test_date="2020-06-01",
            fev1_pct_pred="70",
            fvc_pct_pred="75.5",
            dlco_pct_pred="",
            updated_at=UPD,
            is_deleted="0",
        ),
        dict(
            record_id="PF2",
            mrn="MRN001",
            test_date="2020-06-20",
            fev1_pct_pred="",
            fvc_pct_pred="",
            dlco_pct_pred="55",
            updated_at=UPD,
            is_deleted="0",
        ),
    ],
}

# expected marts.cohort per mrn: (index_date, hrct_pattern, exit_reason, analysis_group, control_dx)
COHORT = {
    "MRN001": ("2020-06-15", "NSIP", "analysed", "ADM-NSIP", None),
    "MRN002": ("2019-01-10", "OP", "analysed", "control-OP", "COP"),
    "MRN003": ("2020-06-15", "other", "pattern_not_nsip_op", None, None),
    "MRN004": ("2020-06-15", "NSIP", "malignancy", None, None),
    "MRN005": ("2020-06-15", "NSIP", "iim_muscle_involvement", None, None),
    "MRN006": ("2020-06-15", "NSIP", "multiple_ctd", None, None),
    "MRN007": ("2020-06-15", "NSIP", "prior_treatment", None, None),
    "MRN008": ("2020-06-15", "NSIP", "drug_induced", None, None),
    "MRN011": ("2021-03-01", "NSIP", "analysed", "control-NSIP", "RA"),
}

ATTRITION = [
    (1, "screened", 9, 0),
    (2, "pattern_not_nsip_op", 8, 1),
    (3, "iim_muscle_involvement", 7, 1),
    (4, "malignancy", 6, 1),
    (5, "multiple_ctd", 5, 1),
    (6, "prior_treatment", 4, 1),
    (7, "drug_induced", 3, 1),
    (8, "ADM-NSIP", 1, 0),
    (9, "control-NSIP", 1, 0),
    (10, "ADM-OP", 0, 0),
    (11, "control-OP", 1, 0),
]
