"""dbt-duckdb plugin that hands the pseudonym key to DuckDB as HMAC pads, never as SQL text.

Configured in `dbt_project/profiles.yml` (`plugins: [{module: ildwh.dbt_plugin}]`). On every
connection and cursor dbt-duckdb opens, it sets the DuckDB variables `ildwh_hmac_ipad` and
`ildwh_hmac_opad` (hex of key XOR 0x36 / 0x5c, see `ildwh.keys.hmac_pads`); the macro
`person_key(mrn)` computes HMAC-SHA256 from them with `sha256()`. The key file is
`$ILDWH_KEY_FILE` when set, else the default of `ildwh.keys.load_key` (env `ILDWH_PSEUDONYM_KEY`
first, then `<home>/pseudonym.key`). Statements are run directly on the connection, so they never
reach dbt's logs or the manifest.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from ildwh import IldwhError
from ildwh.keys import hmac_pads, load_key

KEY_FILE_ENV = "ILDWH_KEY_FILE"


class Plugin(BasePlugin):
    """Sets the HMAC pads of the pseudonym key on each DuckDB connection."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        key_file = os.environ.get(KEY_FILE_ENV)
        try:
            key = load_key(Path(key_file) if key_file else None, create=False)
        except FileNotFoundError as exc:
            raise IldwhError(
                f"ildwh.dbt_plugin: {exc}. Fix: set ILDWH_PSEUDONYM_KEY or point {KEY_FILE_ENV} "
                "at the key file (dbt_project/profiles.yml loads this plugin)."
            ) from exc
        self._ipad, self._opad = hmac_pads(key)

    def _set_pads(self, conn: Any) -> None:
        conn.execute(f"set variable ildwh_hmac_ipad = '{self._ipad}'")
        conn.execute(f"set variable ildwh_hmac_opad = '{self._opad}'")

    def configure_connection(self, conn: Any) -> None:
        self._set_pads(conn)

    def configure_cursor(self, cursor: Any) -> None:
        # DuckDB variables belong to one connection; every cursor is a new one.
        self._set_pads(cursor)
