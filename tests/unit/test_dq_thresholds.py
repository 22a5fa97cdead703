"""thresholds.yml: every check configured, and mistakes reported with file, line and fix."""

from __future__ import annotations

import pytest

from expectations.checkpoint import _status
from expectations.suites import THRESHOLDS_FILE, build_checks, load_thresholds
from ildwh import IldwhError


def test_every_check_has_category_severity_threshold():
    t = load_thresholds()
    checks = build_checks(
        t,
        previous={
            "screened": 382,
            "ADM-NSIP": 46,
            "control-NSIP": 92,
            "ADM-OP": 23,
            "control-OP": 29,
        },
    )
    assert len({c.name for c in checks}) == len(checks)
    ids = {c.check_id for c in checks}
    assert ids <= set(t.checks)
    assert "plausibility.attrition_vs_previous" in ids
    assert t.limits["LDH"] == (20.0, 5000.0) and t.limits["FIO2"] == (0.21, 1.0)
    assert t.of("info.baseline_ldh_above_uln")["uln"] == 211


def test_without_previous_run_no_comparison_checks():
    ids = {c.check_id for c in build_checks(load_thresholds(), previous={})}
    assert "plausibility.attrition_vs_previous" not in ids


def test_bad_severity_names_file_and_line(tmp_path):
    text = THRESHOLDS_FILE.read_text().replace(
        "conformance.patient_sex: {category: conformance, severity: warn",
        "conformance.patient_sex: {category: conformance, severity: fatal",
    )
    bad = tmp_path / "thresholds.yml"
    bad.write_text(text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "severity: fatal" in ln)
    with pytest.raises(
        IldwhError,
        match=rf"thresholds.yml, line {line}: 'conformance.patient_sex'"
        r" severity must be one of error, warn, info",
    ):
        load_thresholds(bad)


def test_threshold_out_of_range_rejected(tmp_path):
    bad = tmp_path / "t.yml"
    bad.write_text("checks:\n  x.y: {category: conformance, severity: warn, threshold: 5}\n")
    with pytest.raises(IldwhError, match="line 2: 'x.y' threshold must be a share between 0 and 1"):
        load_thresholds(bad)


def test_missing_limit_and_missing_entry_are_errors(tmp_path):
    small = tmp_path / "t.yml"
    small.write_text("checks: {}\nplausibility_limits: {}\n")
    with pytest.raises(IldwhError, match=r"t.yml: no plausibility limit for 'WBC'.*add `WBC: "):
        build_checks(load_thresholds(small))
    text = THRESHOLDS_FILE.read_text()
    start = text.index("  conformance.patient_sex:")
    small.write_text(text[:start] + text[text.index("\n", start) + 1 :])
    with pytest.raises(IldwhError, match="no entry for check 'conformance.patient_sex'"):
        build_checks(load_thresholds(small))


@pytest.mark.parametrize(
    ("n_rows", "n_failed", "threshold", "expected"),
    [
        (0, 0, 0.0, ("not_applicable", None)),
        (100, 0, 0.0, ("passed", 0.0)),
        (100, 1, 0.0, ("failed", 0.01)),
        (100, 1, 0.01, ("passed", 0.01)),  # at the threshold: allowed
        (100, 2, 0.01, ("failed", 0.02)),
    ],
)
def test_status_rule(n_rows, n_failed, threshold, expected):
    assert _status(n_rows, n_failed, threshold) == expected
