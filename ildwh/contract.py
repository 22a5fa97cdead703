"""The raw extract contract (../shared/spec/raw-extract-contract.md, v1) as data.

The loader, the generator and the tests read this module; nothing else restates the contract.
"""

from __future__ import annotations

COMMON = ("record_id", "updated_at", "is_deleted")

TABLES: dict[str, tuple[str, ...]] = {
    "patients": (
        "record_id",
        "mrn",
        "name",
        "id_number",
        "phone",
        "sex",
        "birth_date",
        "smoking_status",
        "updated_at",
        "is_deleted",
    ),
    "diagnoses": (
        "record_id",
        "mrn",
        "dx_date",
        "icd10_code",
        "dx_text",
        "department",
        "dx_type",
        "updated_at",
        "is_deleted",
    ),
    "clinical_findings": (
        "record_id",
        "mrn",
        "finding_date",
        "finding_code",
        "present",
        "source_note",
        "updated_at",
        "is_deleted",
    ),
    "lab_results": (
        "record_id",
        "mrn",
        "collected_at",
        "test_code",
        "test_name",
        "result_text",
        "unit",
        "ref_range_text",
        "abnormal_flag",
        "updated_at",
        "is_deleted",
    ),
    "pulmonary_function": (
        "record_id",
        "mrn",
        "test_date",
        "fev1_pct_pred",
        "fvc_pct_pred",
        "dlco_pct_pred",
        "updated_at",
        "is_deleted",
    ),
    "imaging": (
        "record_id",
        "mrn",
        "study_date",
        "modality",
        "reader",
        "pattern",
        "report_text",
        "updated_at",
        "is_deleted",
    ),
    "medications": (
        "record_id",
        "mrn",
        "drug_name",
        "atc_code",
        "start_date",
        "end_date",
        "route",
        "updated_at",
        "is_deleted",
    ),
    "vital_status": (
        "record_id",
        "mrn",
        "status_date",
        "status",
        "death_date",
        "source",
        "updated_at",
        "is_deleted",
    ),
}

# Clinical date/timestamp columns checked by the loader (future / before 1900 / unparseable).
# A blank value is allowed in the optional ones.
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("birth_date",),
    "diagnoses": ("dx_date",),
    "clinical_findings": ("finding_date",),
    "lab_results": ("collected_at",),
    "pulmonary_function": ("test_date",),
    "imaging": ("study_date",),
    "medications": ("start_date", "end_date"),
    "vital_status": ("status_date", "death_date"),
}
OPTIONAL_DATE_COLUMNS = {
    ("patients", "birth_date"),
    ("medications", "end_date"),
    ("vital_status", "death_date"),
}

FINDING_CODES = (
    "HELIOTROPE_RASH",
    "GOTTRON_SIGN",
    "GOTTRON_PAPULES",
    "MECHANIC_HANDS",
    "V_SIGN",
    "HOLSTER_SIGN",
    "SHAWL_SIGN",
    "CUTANEOUS_ULCER",
    "POIKILODERMA",
    "PERIUNGUAL_ERYTHEMA",
    "OTHER_DM_RASH",
    "MUSCLE_WEAKNESS",
    "MYALGIA",
    "MYOSITIS_ON_MRI_OR_EMG",
    "FEVER",
    "RAYNAUD",
    "ARTHRALGIA",
    "ARTHRITIS",
    "WEIGHT_LOSS",
    "FATIGUE",
    "IPAF_CRITERIA_MET",
)

# Accepted date formats (DuckDB strptime patterns), tried in order. Timestamps may carry +08:00.
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y年%m月%d日",
)
LOCAL_TZ = "Asia/Shanghai"

QUARANTINE_REASONS = {
    "malformed_row": "the row has the wrong number of fields",
    "exact_duplicate": "an exact copy of an earlier row in the same file (the first copy is loaded)",
    "missing_record_id": "record_id is blank",
    "missing_mrn": "mrn is blank",
    "bad_updated_at": "updated_at is blank or not a timestamp in a contract format",
    "bad_is_deleted": "is_deleted is not 0, 1 or blank",
    "unparseable_date": "a date column holds a value in no contract format",
    "future_date": "a date after the drop's extracted_at",
    "date_before_1900": "a date before 1900-01-01",
    "unknown_finding_code": "finding_code is not in the contract's list",
}

# Canonical numeric analytes (contract "lab_results"), in canonical units; the blood-gas ones come
# from one blood-gas sample. ANA and the line-blot antibodies are text (titre, grade).
NUMERIC_ANALYTES = (
    "WBC",
    "LYM",
    "HB",
    "PLT",
    "HSCRP",
    "ESR",
    "ALB",
    "ALT",
    "AST",
    "CK",
    "CKMB",
    "LDH",
    "B2MG",
    "FERRITIN",
    "PAO2",
    "FIO2",
    "LACTATE",
)
BLOOD_GAS_ANALYTES = ("PAO2", "FIO2", "LACTATE")

ENCODINGS = ("utf-8", "gb18030")
DROP_KINDS = ("full", "delta")
