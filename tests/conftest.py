"""Shared fixtures. Each test gets its own home folder and pseudonym key; Prefect runs against a
temporary in-process test server (`prefect_test_harness`), started once per session."""

from __future__ import annotations

import os

import pytest

TEST_KEY = "test-pseudonym-key-0123456789abcdef"
# Set at import so session- and module-scoped fixtures see the same key as the tests.
os.environ["ILDWH_PSEUDONYM_KEY"] = TEST_KEY
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ILDWH_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("ILDWH_HOME", str(tmp_path / "home"))
    yield


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect API for real flow runs (about 10-20 s to start, once per session)."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
