"""End to end against the generator's truth: synth -> load -> dbt build -> per-patient comparison.

The bar is zero mismatches: screening, exit reason, group, control diagnosis, every baseline value
(relative tolerance 1e-6), event and time_days, for every generated person, plus the exact
attrition of the study (382 / 142 / 19 / 10 / 4 / 15 / 2 / 190 and 46 / 92 / 23 / 29).
"""

from __future__ import annotations

import os

import pytest

from ildwh.config import Paths
from ildwh.dbt_runner import dbt_build
from tests.e2e.truth_compare import compare

pytestmark = pytest.mark.slow

KEY = "e2e-truth-key"
ATTRITION = [
    ("screened", 382, 0),
    ("pattern_not_nsip_op", 240, 142),
    ("iim_muscle_involvement", 221, 19),
    ("malignancy", 211, 10),
    ("multiple_ctd", 207, 4),
    ("prior_treatment", 192, 15),
    ("drug_induced", 190, 2),
    ("ADM-NSIP", 46, 0),
    ("control-NSIP", 92, 0),
    ("ADM-OP", 23, 0),
    ("control-OP", 29, 0),
]


@pytest.fixture()
def pseudonym_key(monkeypatch):
    monkeypatch.setenv("ILDWH_PSEUDONYM_KEY", KEY)
    return KEY.encode()


@pytest.mark.parametrize(("seed", "scale"), [(20240101, 1), (12345, 1), (777, 3)])
def test_marts_equal_generator_truth(tmp_path, pseudonym_key, seed, scale):
    synth = pytest.importorskip("ildwh.synth")
    loader = pytest.importorskip("ildwh.load.loader")
    paths = Paths.at(tmp_path).ensure()
    synth.generate(paths.extracts, seed=seed, scale=scale, drops=2)
    loader.load_extracts(paths.extracts, paths.restricted_db)

    result = dbt_build(paths)

    assert result.ok, result.summary_text()
    problems, info = compare(paths.extracts, paths.build_db, pseudonym_key)
    assert info["attrition"] == [(step, n * scale, x * scale) for step, n, x in ATTRITION]
    assert info["n_screened"] == 382 * scale and info["n_checked"] == 382 * scale
    assert problems == [], f"{len(problems)} mismatches, first: {problems[:20]}"
    assert "ILDWH_PSEUDONYM_KEY" in os.environ
