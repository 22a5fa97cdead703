"""The data-quality suites, defined in code: one GE expectation suite per warehouse table.

Checks follow the Kahn framework used by the OHDSI Data Quality Dashboard: *conformance* (values in
their value sets, units convertible, dates parseable), *completeness* (required fields, baseline
values of Table 2) and *plausibility* (physiological limits, dates in order, counts against the
previous run). Severity, threshold and check parameters live in ``thresholds.yml``; this module
only says WHAT each check looks at. :func:`build_checks` returns the checks that apply to one
warehouse file (a check on a table the file does not have is reported ``not_applicable``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from ildwh import IldwhError
from ildwh.contract import FINDING_CODES, NUMERIC_ANALYTES

THRESHOLDS_FILE = Path(__file__).with_name("thresholds.yml")
SEVERITIES = ("error", "warn", "info")
CATEGORIES = ("conformance", "completeness", "plausibility")

# The staging models the checks read (dbt_project/models/staging), and the columns used.
STG_PATIENTS = "staging.stg_ehr__patients"
STG_FINDINGS = "staging.stg_ehr__clinical_findings"
STG_LABS = "staging.stg_ehr__lab_results"
STG_PFT = "staging.stg_ehr__pulmonary_function_tests"
STG_IMAGING = "staging.stg_ehr__imaging_reads"
STG_MEDS = "staging.stg_ehr__medications"
STG_VITAL = "staging.stg_ehr__vital_statuses"
STG_RECON = "staging.stg_loader__reconciliation"
STG_QUARANTINE = "staging.stg_loader__quarantine"

ATTRITION_STEPS = (
    "screened",
    "pattern_not_nsip_op",
    "iim_muscle_involvement",
    "malignancy",
    "multiple_ctd",
    "prior_treatment",
    "drug_induced",
    "ADM-NSIP",
    "control-NSIP",
    "ADM-OP",
    "control-OP",
)
GROUPS = ("ADM-NSIP", "control-NSIP", "ADM-OP", "control-OP")
EXIT_REASONS = (
    "pattern_not_nsip_op",
    "iim_muscle_involvement",
    "malignancy",
    "multiple_ctd",
    "prior_treatment",
    "drug_induced",
    "analysed",
)

# marts.baseline continuous column -> key in plausibility_limits, and its completeness group.
BASELINE_COLUMNS: dict[str, tuple[str, str]] = {
    "age_years": ("AGE", "routine_lab"),
    "wbc_10e9_per_l": ("WBC", "routine_lab"),
    "lymphocyte_10e9_per_l": ("LYM", "routine_lab"),
    "hb_g_per_l": ("HB", "routine_lab"),
    "plt_10e9_per_l": ("PLT", "routine_lab"),
    "hscrp_mg_per_l": ("HSCRP", "routine_lab"),
    "esr_mm_per_h": ("ESR", "routine_lab"),
    "alb_g_per_l": ("ALB", "routine_lab"),
    "alt_u_per_l": ("ALT", "routine_lab"),
    "ast_u_per_l": ("AST", "routine_lab"),
    "ck_u_per_l": ("CK", "routine_lab"),
    "ckmb_u_per_l": ("CKMB", "routine_lab"),
    "ldh_u_per_l": ("LDH", "routine_lab"),
    "b2mg_mg_per_l": ("B2MG", "routine_lab"),
    "ferritin_ug_per_l": ("FERRITIN", "routine_lab"),
    "pao2_mmhg": ("PAO2", "blood_gas"),
    "oi_mmhg": ("OI", "blood_gas"),
    "lactate_mmol_per_l": ("LACTATE", "blood_gas"),
    "fev1_pct_pred": ("FEV1_PCT", "lung_function"),
    "fvc_pct_pred": ("FVC_PCT", "lung_function"),
    "dlco_pct_pred": ("DLCO_PCT", "lung_function"),
}
AUTOANTIBODY_COLUMNS = ("ana_positive", "anti_mda5")
PFT_COLUMNS = ("fev1_pct_pred", "fvc_pct_pred", "dlco_pct_pred")


@dataclass(frozen=True)
class Check:
    """One expectation: what it looks at. Severity and threshold come from thresholds.yml.

    ``kind`` is ``not_null``, ``in_set``, ``not_in_set``, ``between`` (GE column-map expectations,
    evaluated over the non-NULL rows except ``not_null``), ``rows`` (GE
    ``UnexpectedRowsExpectation``: ``params['failed_sql']`` selects the key of each failing row,
    ``params['total_sql']`` counts the rows evaluated; ``{table}`` is the checked table), or
    ``tables`` (the required tables exist; answered from the catalogue).
    """

    check_id: str
    name: str
    table: str
    kind: str
    column: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    row_condition: str | None = None
    key_column: str | None = None
    description: str = ""

    @property
    def suite(self) -> str:
        return self.table


@dataclass(frozen=True)
class Thresholds:
    """thresholds.yml, validated."""

    checks: Mapping[str, Mapping[str, Any]]
    limits: Mapping[str, tuple[float, float]]
    required_tables: tuple[str, ...]
    path: Path

    def limit(self, key: str) -> tuple[float, float]:
        try:
            return self.limits[key]
        except KeyError:
            raise IldwhError(
                f"{self.path}: no plausibility limit for '{key}' under 'plausibility_limits:'; "
                f"add `{key}: [min, max]` in its canonical unit"
            ) from None

    def of(self, check_id: str) -> Mapping[str, Any]:
        try:
            return self.checks[check_id]
        except KeyError:
            raise IldwhError(
                f"{self.path}: no entry for check '{check_id}' under 'checks:'; add "
                f"`{check_id}: {{category: ..., severity: ..., threshold: ...}}`"
            ) from None


def load_thresholds(path: Path | None = None) -> Thresholds:
    """Read and validate thresholds.yml (default: the one beside this module)."""
    path = Path(path) if path else THRESHOLDS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise IldwhError(f"{path}: cannot read the data-quality thresholds ({exc})") from exc
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark else ""
        raise IldwhError(f"{path}{line}: not valid YAML ({exc}); fix the syntax") from exc
    lines = text.splitlines()

    def line_of(key: str) -> int:
        for i, ln in enumerate(lines, 1):
            if ln.strip().startswith(f"{key}:"):
                return i
        return 0

    checks = doc.get("checks") or {}
    for cid, entry in checks.items():
        where = f"{path}, line {line_of(cid)}"
        if not isinstance(entry, dict):
            raise IldwhError(f"{where}: '{cid}' must be a mapping with category/severity/threshold")
        if entry.get("category") not in CATEGORIES:
            raise IldwhError(f"{where}: '{cid}' category must be one of {', '.join(CATEGORIES)}")
        if entry.get("severity") not in SEVERITIES:
            raise IldwhError(f"{where}: '{cid}' severity must be one of {', '.join(SEVERITIES)}")
        thr = entry.get("threshold")
        if not isinstance(thr, int | float) or isinstance(thr, bool) or not 0 <= thr <= 1:
            raise IldwhError(
                f"{where}: '{cid}' threshold must be a share between 0 and 1, got {thr!r}"
            )
    limits = {}
    for key, pair in (doc.get("plausibility_limits") or {}).items():
        if not (isinstance(pair, list) and len(pair) == 2 and pair[0] <= pair[1]):
            raise IldwhError(
                f"{path}, line {line_of(key)}: plausibility limit '{key}' must be "
                f"[min, max] with min <= max, got {pair!r}"
            )
        limits[key] = (float(pair[0]), float(pair[1]))
    return Thresholds(
        checks=checks,
        limits=limits,
        required_tables=tuple(doc.get("required_tables") or ()),
        path=path,
    )


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _cond(column: str, value: str) -> str:
    return f'col("{column}")=="{value}"'


def existing_columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """schema.table -> its columns, for every table and view in the warehouse file."""
    rows = con.execute(
        "select table_schema || '.' || table_name, column_name from information_schema.columns "
        "where table_catalog = current_database()"
    ).fetchall()
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(table, set()).add(column)
    return out


def previous_attrition(previous_db: Path | None) -> dict[str, int]:
    """step -> n_remaining in the previously published warehouse ({} when there is none)."""
    if previous_db is None or not Path(previous_db).exists():
        return {}
    con = duckdb.connect(str(previous_db), read_only=True)
    try:
        return dict(con.execute("select step, n_remaining from marts.attrition").fetchall())
    except duckdb.Error:
        return {}
    finally:
        con.close()


def build_checks(thresholds: Thresholds, previous: Mapping[str, int] | None = None) -> list[Check]:
    """Every check of the framework, in report order."""
    checks: list[Check] = []
    add = checks.append

    # ---- conformance -------------------------------------------------------------------------
    add(
        Check(
            "conformance.cohort_hrct_pattern",
            "cohort.hrct_pattern",
            "marts.cohort",
            "in_set",
            "hrct_pattern",
            {"value_set": ["NSIP", "OP", "other"]},
            key_column="person_key",
            description="initial HRCT pattern normalised to NSIP / OP / other",
        )
    )
    add(
        Check(
            "conformance.cohort_exit_reason",
            "cohort.exit_reason",
            "marts.cohort",
            "in_set",
            "exit_reason",
            {"value_set": list(EXIT_REASONS)},
            key_column="person_key",
            description="exit reason is one of the protocol's attrition steps",
        )
    )
    add(
        Check(
            "conformance.cohort_analysis_group",
            "cohort.analysis_group",
            "marts.cohort",
            "in_set",
            "analysis_group",
            {"value_set": list(GROUPS)},
            key_column="person_key",
            description="analysis group is one of the four study groups",
        )
    )
    add(
        Check(
            "conformance.baseline_hrct_pattern",
            "baseline.hrct_pattern",
            "marts.baseline",
            "in_set",
            "hrct_pattern",
            {"value_set": ["NSIP", "OP"]},
            key_column="person_key",
            description="analysed patients have an NSIP or OP pattern",
        )
    )
    add(
        Check(
            "conformance.attrition_steps",
            "attrition.step",
            "marts.attrition",
            "in_set",
            "step",
            {"value_set": list(ATTRITION_STEPS)},
            description="attrition steps are the protocol's steps and groups",
        )
    )
    add(
        Check(
            "conformance.survival_event",
            "survival.event",
            "marts.survival",
            "in_set",
            "event",
            {"value_set": [0, 1]},
            key_column="person_key",
            description="event is 0 or 1",
        )
    )
    add(
        Check(
            "conformance.patient_sex",
            "patients.sex",
            STG_PATIENTS,
            "in_set",
            "sex",
            {"value_set": ["male", "female"]},
            key_column="record_id",
            description="sex normalises to male / female (unknown values counted)",
        )
    )
    add(
        Check(
            "conformance.finding_code",
            "findings.finding_code",
            STG_FINDINGS,
            "in_set",
            "finding_code",
            {"value_set": list(FINDING_CODES)},
            key_column="record_id",
            description="finding codes in the contract's list",
        )
    )
    add(
        Check(
            "conformance.finding_code_quarantined",
            "quarantine.unknown_finding_code",
            STG_QUARANTINE,
            "rows",
            params={
                "failed_sql": "select record_id from {table} where reason = 'unknown_finding_code'",
                "total_sql": f"select coalesce(sum(rows_read), 0) from {STG_RECON} "
                "where table_name = 'clinical_findings'",
            },
            key_column="record_id",
            description="share of finding rows quarantined for an unknown finding code",
        )
    )
    add(
        Check(
            "conformance.imaging_pattern",
            "imaging.pattern",
            STG_IMAGING,
            "rows",
            params={
                "failed_sql": "select record_id from {table} where pattern_text not in "
                "(select raw_pattern from seeds.hrct_pattern_map)",
                "total_sql": "select count(*) from {table}",
            },
            key_column="record_id",
            description="imaging pattern text is in the pattern map (hrct_pattern_map seed); "
            "unknown text counts as 'other'",
        )
    )
    add(
        Check(
            "conformance.lab_code_mapped",
            "labs.unmapped_code",
            STG_LABS,
            "not_in_set",
            "value_status",
            {"value_set": ["unmapped_code"]},
            key_column="record_id",
            description="lab test_code is in the laboratory catalogue (lab_codes seed)",
        )
    )
    add(
        Check(
            "conformance.lab_unit_convertible",
            "labs.unit_not_convertible",
            STG_LABS,
            "not_in_set",
            "value_status",
            {"value_set": ["unit_not_convertible"]},
            key_column="record_id",
            description="lab unit has a conversion to the analyte's canonical unit",
        )
    )
    add(
        Check(
            "conformance.lab_result_numeric",
            "labs.non_numeric_result",
            STG_LABS,
            "not_in_set",
            "value_status",
            {"value_set": ["blank", "not_numeric", "not_titre", "not_grade"]},
            key_column="record_id",
            description="result_text holds a number, titre or grade as the analyte needs "
            "(hemolysed, see note, blank: missing)",
        )
    )
    add(
        Check(
            "conformance.drug_identified",
            "medications.drug_identified",
            STG_MEDS,
            "not_in_set",
            "atc_source",
            {"value_set": ["unmatched_name"]},
            key_column="record_id",
            description="drug identified by ATC code or through the drug name list",
        )
    )
    add(
        Check(
            "conformance.dates_parseable",
            "quarantine.unparseable_date",
            STG_QUARANTINE,
            "rows",
            params={
                "failed_sql": "select record_id from {table} where reason in "
                "('unparseable_date', 'bad_updated_at')",
                "total_sql": f"select coalesce(sum(rows_read), 0) from {STG_RECON}",
            },
            key_column="record_id",
            description="share of delivered rows quarantined for a date in no contract format",
        )
    )
    add(
        Check(
            "conformance.reconciliation_balanced",
            "reconciliation.balanced",
            STG_RECON,
            "in_set",
            "balanced",
            {"value_set": [True]},
            key_column="file",
            description="rows read = loaded + duplicate + quarantined = manifest, per file",
        )
    )

    # ---- completeness ------------------------------------------------------------------------
    add(
        Check(
            "completeness.required_tables",
            "required_tables",
            "information_schema.tables",
            "tables",
            params={"tables": list(thresholds.required_tables)},
            description="the marts analysis reads exist",
        )
    )
    for col in ("person_key", "index_date", "hrct_pattern", "exit_reason"):
        add(
            Check(
                "completeness.cohort_required",
                f"cohort.{col}.present",
                "marts.cohort",
                "not_null",
                col,
                key_column="person_key",
                description=f"cohort {col} is filled",
            )
        )
    for col in ("person_key", "analysis_group", "time_days", "event"):
        add(
            Check(
                "completeness.survival_required",
                f"survival.{col}.present",
                "marts.survival",
                "not_null",
                col,
                key_column="person_key",
                description=f"survival {col} is filled",
            )
        )
    for col in ("person_key", "analysis_group", "is_adm", "male", "age_years"):
        add(
            Check(
                "completeness.baseline_required",
                f"baseline.{col}.present",
                "marts.baseline",
                "not_null",
                col,
                key_column="person_key",
                description=f"baseline {col} is filled",
            )
        )
    for table, cols in (
        (STG_PATIENTS, ("record_id", "person_key")),
        (STG_LABS, ("record_id", "person_key", "collected_at")),
        (STG_FINDINGS, ("record_id", "person_key", "finding_date")),
        (STG_IMAGING, ("record_id", "person_key", "study_date")),
        (STG_PFT, ("record_id", "person_key", "test_date")),
        (STG_MEDS, ("record_id", "person_key", "start_date")),
        (STG_VITAL, ("record_id", "person_key", "status_date")),
    ):
        short = table.split("__")[-1]
        for col in cols:
            add(
                Check(
                    "completeness.staging_required",
                    f"{short}.{col}.present",
                    table,
                    "not_null",
                    col,
                    key_column="record_id",
                    description=f"{short} {col} is filled",
                )
            )
    for col, (_, group) in BASELINE_COLUMNS.items():
        if col == "age_years":
            continue
        add(
            Check(
                f"completeness.baseline_{group}",
                f"baseline.{col}.present",
                "marts.baseline",
                "not_null",
                col,
                key_column="person_key",
                description=f"analysed patients with a baseline {col}",
            )
        )
    for col in AUTOANTIBODY_COLUMNS:
        add(
            Check(
                "completeness.baseline_autoantibody",
                f"baseline.{col}.present",
                "marts.baseline",
                "not_null",
                col,
                key_column="person_key",
                description=f"analysed patients with a baseline {col} result",
            )
        )

    # ---- plausibility ------------------------------------------------------------------------
    for analyte in NUMERIC_ANALYTES:
        lo, hi = thresholds.limit(analyte)
        add(
            Check(
                "plausibility.lab_value",
                f"labs.{analyte}.limits",
                STG_LABS,
                "between",
                "value_numeric",
                {"min_value": lo, "max_value": hi},
                row_condition=_cond("analyte", analyte),
                key_column="record_id",
                description=f"{analyte} within physiological limits {lo:g}-{hi:g}",
            )
        )
    for col in PFT_COLUMNS:
        lo, hi = thresholds.limit(BASELINE_COLUMNS[col][0])
        add(
            Check(
                "plausibility.pulmonary_function",
                f"pft.{col}.limits",
                STG_PFT,
                "between",
                col,
                {"min_value": lo, "max_value": hi},
                key_column="record_id",
                description=f"{col} within {lo:g}-{hi:g} % predicted",
            )
        )
    for col, (key, _) in BASELINE_COLUMNS.items():
        lo, hi = thresholds.limit(key)
        desc = (
            f"age at index within {lo:g}-{hi:g} years (birth date before index date)"
            if col == "age_years"
            else f"baseline {col} within {lo:g}-{hi:g}"
        )
        add(
            Check(
                "plausibility.baseline_value",
                f"baseline.{col}.limits",
                "marts.baseline",
                "between",
                col,
                {"min_value": lo, "max_value": hi},
                key_column="person_key",
                description=desc,
            )
        )
    add(
        Check(
            "plausibility.follow_up_positive",
            "survival.time_days",
            "marts.survival",
            "between",
            "time_days",
            {"min_value": 0.5, "max_value": None, "strict_min": True},
            key_column="person_key",
            description="death or censoring after the index date (0 or negative kept as 0.5 days)",
        )
    )
    add(
        Check(
            "plausibility.medication_end_after_start",
            "medications.end_after_start",
            STG_MEDS,
            "rows",
            params={
                "failed_sql": "select record_id from {table} where end_date < start_date",
                "total_sql": "select count(*) from {table} where end_date is not null",
            },
            key_column="record_id",
            description="a course ends on or after its start",
        )
    )
    add(
        Check(
            "plausibility.death_after_birth",
            "vital_status.death_after_birth",
            STG_VITAL,
            "rows",
            params={
                "failed_sql": "select v.record_id from {table} v join " + STG_PATIENTS + " p "
                "using (person_key) where v.death_date < p.birth_date",
                "total_sql": "select count(*) from {table} where death_date is not null",
            },
            key_column="record_id",
            description="death date not before the birth date",
        )
    )
    if previous:
        cfg = thresholds.of("plausibility.attrition_vs_previous")
        for step in ATTRITION_STEPS:
            if step not in previous:
                continue
            prev = int(previous[step])
            tol = max(float(cfg.get("abs_tolerance", 0)), float(cfg.get("rel_tolerance", 0)) * prev)
            add(
                Check(
                    "plausibility.attrition_vs_previous",
                    f"attrition.{step}.vs_previous",
                    "marts.attrition",
                    "between",
                    "n_remaining",
                    {"min_value": prev - tol, "max_value": prev + tol},
                    row_condition=_cond("step", step),
                    key_column="step",
                    description=f"{step}: n within {prev} +/- {tol:g} (previous run)",
                )
            )
        prev_total = sum(int(previous.get(g, 0)) for g in GROUPS)
        if prev_total:
            tol = float(
                thresholds.of("plausibility.group_share_vs_previous").get("share_tolerance", 0.05)
            )
            prev_rows = ", ".join(
                f"({_q(g)}, {int(previous.get(g, 0)) / prev_total!r})" for g in GROUPS
            )
            add(
                Check(
                    "plausibility.group_share_vs_previous",
                    "attrition.group_shares",
                    "marts.attrition",
                    "rows",
                    params={
                        "failed_sql": "with cur as (select step, n_remaining::double / "
                        "sum(n_remaining) over () as share from {table} where step in ("
                        + ", ".join(_q(g) for g in GROUPS)
                        + ")), prev(step, share) as "
                        f"(values {prev_rows}) select cur.step from cur join prev using (step) "
                        f"where abs(cur.share - prev.share) > {tol!r}",
                        "total_sql": "select count(*) from {table} where step in ("
                        + ", ".join(_q(g) for g in GROUPS)
                        + ")",
                    },
                    key_column="step",
                    description=f"each group's share of the analysed cohort within {tol:g} of "
                    "the previous run",
                )
            )
    add(
        Check(
            "plausibility.quarantine_share",
            "quarantine.share",
            STG_QUARANTINE,
            "rows",
            params={
                "failed_sql": "select record_id from {table}",
                "total_sql": f"select coalesce(sum(rows_read), 0) from {STG_RECON}",
            },
            key_column="record_id",
            description="share of delivered rows quarantined by the loader",
        )
    )

    # ---- clinical flags (info) -----------------------------------------------------------------
    for cid, col, label in (
        ("info.baseline_ldh_above_uln", "ldh_u_per_l", "LDH"),
        ("info.baseline_ck_above_uln", "ck_u_per_l", "CK"),
    ):
        uln = float(thresholds.of(cid).get("uln"))
        add(
            Check(
                cid,
                f"baseline.{col}.above_uln",
                "marts.baseline",
                "between",
                col,
                {"min_value": None, "max_value": uln},
                key_column="person_key",
                description=f"baseline {label} above the upper limit of normal {uln:g} U/L "
                "(clinical flag)",
            )
        )
    for c in checks:
        thresholds.of(c.check_id)  # every check must be configured
    return checks
