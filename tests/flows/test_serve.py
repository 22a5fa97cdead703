"""`ildwh serve` creates a deployment with Prefect's own cron schedule (asserted, not waited for)."""

from __future__ import annotations

import pytest

from flows.nightly_refresh import build_deployment, serve_cli
from ildwh import IldwhError
from ildwh.config import Paths


def test_deployment_has_the_nightly_cron_schedule(tmp_path):
    d = build_deployment(Paths.at(tmp_path), extracts=str(tmp_path / "x"))
    assert d.name == "ildwh-nightly"
    (sched,) = d.schedules
    assert sched.schedule.cron == "0 2 * * *"
    assert sched.schedule.timezone == "Asia/Shanghai"
    assert sched.active is True
    assert d.parameters == {"home": str(tmp_path), "extracts": str(tmp_path / "x")}


def test_schedule_is_configurable(tmp_path):
    d = build_deployment(Paths.at(tmp_path), cron="30 3 * * 1-5", timezone="UTC")
    assert d.schedules[0].schedule.cron == "30 3 * * 1-5"
    assert d.schedules[0].schedule.timezone == "UTC"


def test_serve_without_a_server_says_how_to_start_one(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with pytest.raises(IldwhError, match="prefect server start"):
        serve_cli(Paths.at(tmp_path))
