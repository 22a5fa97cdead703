"""Runtime settings: paths under the home folder, taken from the environment with documented defaults.

`ILDWH_HOME`  home folder (warehouse, reports, run logs); default `<repo>/.ildwh-home`.
`ILDWH_PSEUDONYM_KEY`  pseudonym key; default: the key file `<home>/pseudonym.key` (created 0600).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = REPO_ROOT.parent / "shared" / "spec"
# The paper's printed figures, vendored from ../shared/spec/published_results.json so the project
# runs from a clone alone (tests/unit/test_config.py checks the copy against the spec when present).
PUBLISHED_RESULTS = REPO_ROOT / "analysis" / "published_results.json"
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DEFAULT_HOME = REPO_ROOT / ".ildwh-home"


def default_home() -> Path:
    env = os.environ.get("ILDWH_HOME")
    return Path(env).expanduser().resolve() if env else DEFAULT_HOME


@dataclass(frozen=True)
class Paths:
    """Every file the warehouse reads or writes under one home folder."""

    home: Path

    @classmethod
    def at(cls, home: str | os.PathLike | None = None) -> Paths:
        return cls(Path(home).expanduser().resolve() if home else default_home())

    @property
    def extracts(self) -> Path:
        return self.home / "extracts"

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def restricted_db(self) -> Path:
        return self.warehouse_dir / "restricted.duckdb"

    @property
    def analytics_db(self) -> Path:
        return self.warehouse_dir / "analytics.duckdb"

    @property
    def work_dir(self) -> Path:
        return self.home / "work"

    @property
    def build_db(self) -> Path:
        return self.work_dir / "build.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def key_file(self) -> Path:
        return self.home / "pseudonym.key"

    def ensure(self) -> Paths:
        for d in (self.home, self.warehouse_dir, self.work_dir, self.reports_dir, self.runs_dir):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.warehouse_dir, 0o700)
        return self
