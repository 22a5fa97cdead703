"""Prefect flow: load every new drop under an extract root into the restricted raw layer.

Thin orchestration of `ildwh.load`: one task finds the drops, one task per drop verifies and loads
it (one DuckDB transaction). I/O errors are retried with back-off; a refused drop
(`ildwh.IldwhError`) is never retried: it fails the run, and the later drops wait for the next run.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from prefect import flow, get_run_logger, task
from prefect.tasks import exponential_backoff

from ildwh import IldwhError
from ildwh.load import DropResult, LoadReport, discover_drops, load_drop


def _retry_on_io_only(task, task_run, state) -> bool:  # noqa: ARG001 - Prefect's signature
    """Retry when the task failed on I/O (OSError, DuckDB I/O such as a held lock), never on a
    refused drop or any other error."""
    try:
        state.result()
    except IldwhError:
        return False
    except (OSError, duckdb.IOException):
        return True
    except Exception:  # noqa: BLE001 - anything else is not I/O
        return False
    return False


_RETRY = dict(
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_jitter_factor=0.2,
    retry_condition_fn=_retry_on_io_only,
)


@task(name="discover-drops", **_RETRY)
def discover(extract_root: str) -> list[str]:
    """Drop folders under the extract root, in drop_id order."""
    return [str(p) for p in discover_drops(Path(extract_root))]


def _drop_run_name() -> str:
    from prefect.runtime import task_run

    return "load-drop-" + Path(task_run.parameters["drop_dir"]).name


@task(name="load-drop", task_run_name=_drop_run_name, **_RETRY)
def load_one(drop_dir: str, restricted_db: str, force: bool, later: list[str]) -> DropResult:
    """Verify one drop and load it in one transaction (skip when already loaded)."""
    logger = get_run_logger()
    return load_drop(
        Path(restricted_db), Path(drop_dir), force=force, progress=logger.info, later=later
    )


@flow(name="load-raw")
def load_raw_flow(extract_root: str, restricted_db: str, force: bool = False) -> LoadReport:
    """Load every new drop under `extract_root` into `restricted_db`; return the LoadReport."""
    drops = discover(extract_root)
    results = []
    for i, drop_dir in enumerate(drops):
        later = [Path(d).name for d in drops[i + 1 :]]
        results.append(load_one(drop_dir, restricted_db, force, later))
    report = LoadReport.from_results(results)
    get_run_logger().info(report.summary_text())
    return report
