"""Load drops into the restricted raw layer: verify, stage, apply the row rules, then one
transaction per drop (raw tables, quarantine, reconciliation, ledger) or nothing at all.

Staging happens in DuckDB temp tables of the loading connection (never in the database file), so
a refused drop leaves the warehouse exactly as it was. The files of a drop are staged before its
transaction starts: a temp table dropped inside a transaction keeps its memory until the commit
(so staging file by file inside it would not lower the peak), and a table created outside one
numbers its rows from 0 in insertion order (`rowid` = data-row ordinal among parsed rows, the
parse staying parallel, which `row_number() over ()` would not). The staged files of one drop
are a fraction of the peak; what drove it (2.2 GB at scale 100) was an ASOF join that sorted
each staged file to number its rows, now an equality join on row buckets (`_BUCKET`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from ildwh import IldwhError, contract
from ildwh.load.manifest import (
    DropError,
    FileEntry,
    Manifest,
    discover_drops,
    read_manifest,
    verify_files,
)
from ildwh.load.reader import detail_sql, plain_copy, read_header, stage_sql
from ildwh.load.report import DropResult, LoadReport
from ildwh.load.rules import MACROS, lit, q

Progress = Callable[[str], None] | None
_BUCKET = 256  # staged rows per bucket of the ordinal-offset join (see `_stage_file`)
_META = (
    "_extra varchar, _drop_id varchar, _drop_kind varchar, _extracted_at timestamp, "
    "_file varchar, _row bigint, _loaded_at timestamp"
)
DDL = (
    ["create schema if not exists raw"]
    + [
        f"create table if not exists raw.{t} ({', '.join(f'{q(c)} varchar' for c in cols)}, {_META})"
        for t, cols in contract.TABLES.items()
    ]
    + [
        "create table if not exists raw.quarantine (drop_id varchar, table_name varchar, "
        "file varchar, line bigint, row bigint, record_id varchar, reason varchar, "
        "detail varchar, raw_record varchar)",
        "create table if not exists raw.reconciliation (drop_id varchar, table_name varchar, "
        "file varchar, rows_manifest bigint, rows_read bigint, rows_loaded bigint, "
        "rows_duplicate bigint, rows_quarantined bigint, balanced boolean)",
        "create table if not exists raw.drops (drop_id varchar primary key, kind varchar, "
        "extracted_at timestamp, source_system varchar, encoding varchar, "
        "manifest_sha256 varchar, n_files integer, rows_manifest bigint, rows_loaded bigint, "
        "rows_quarantined bigint, loaded_at timestamp)",
    ]
)
_RECON_COLS = (
    "drop_id",
    "table_name",
    "file",
    "rows_manifest",
    "rows_read",
    "rows_loaded",
    "rows_duplicate",
    "rows_quarantined",
    "balanced",
)


def connect(db_path: Path) -> duckdb.DuckDBPyConnection:
    """Open (create, owner-only) the restricted warehouse and make sure the raw schema exists."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    new = not db_path.exists()
    con = duckdb.connect(str(db_path))
    if new:
        os.chmod(db_path, 0o600)
    # Row ordinals come from the staged temp tables' rowids, i.e. from insertion order.
    con.execute("set preserve_insertion_order = true")
    for stmt in DDL:
        con.execute(stmt)
    con.execute(MACROS)
    return con


def _now_local() -> datetime:
    return datetime.now(timezone(timedelta(hours=8))).replace(tzinfo=None, microsecond=0)


def drop_status(con: duckdb.DuckDBPyConnection, manifest: Manifest, force: bool) -> str:
    """`new`, `skipped` (same manifest already loaded) or `replace` (forced); else DropError."""
    row = con.execute(
        "select manifest_sha256 from raw.drops where drop_id = ?", [manifest.drop_id]
    ).fetchone()
    if row is None:
        return "new"
    if row[0] == manifest.manifest_sha256:
        return "skipped"
    if force:
        return "replace"
    raise DropError(
        manifest.drop_id,
        "manifest.json",
        "a drop with this drop_id was already loaded with different content "
        f"(manifest sha256 {row[0][:12]}... then, {manifest.manifest_sha256[:12]}... now)",
        "if the hospital re-delivered this drop on purpose, reload it with `ildwh load --force` "
        "(its old rows are replaced in one transaction); otherwise ask them why it changed",
    )


class _Staged:
    """Temp tables of one staged file and its counts."""

    def __init__(self, i: int, entry: FileEntry):
        self.entry = entry
        self.stage, self.rj, self.rs = f"_ld_stg_{i}", f"_ld_rj_{i}", f"_ld_rs_{i}"
        self.bk, self.dup, self.qr = f"_ld_bk_{i}", f"_ld_dup_{i}", f"_ld_q_{i}"
        self.seg = f"_ld_seg_{i}"
        self.n_good = self.n_bad = self.n_dup = self.n_rule = 0
        self.rid_pos = 0

    @property
    def temps(self) -> tuple[str, ...]:
        return (self.stage, self.rj, self.rs, self.bk, self.seg, self.dup, self.qr)

    def ordinal(self, rid: str) -> str:
        """SQL: data-row ordinal (1-based, malformed rows counted) of stage rowid `rid`."""
        if not self.n_bad:
            return f"({rid} + 1)"
        return (
            f"({rid} + 1 + coalesce((select max(bk_.cnt) from {self.bk} bk_ "
            f"where bk_.k <= {rid}), 0))"
        )


class _PlainCopies:
    """Plain UTF-8 copies of a drop's gzipped or GB18030 files (`reader.plain_copy`), made on a
    worker thread one file ahead of the staging, so decompressing overlaps DuckDB's work."""

    def __init__(self, manifest: Manifest, tmp: Path):
        self._m, self._tmp = manifest, tmp
        self._todo = [e for e in manifest.files if manifest.encoding == "gb18030" or e.gzipped]
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ildwh-plain-copy")
        self._futures: dict[str, Future] = {}
        self._submit(0)

    def _submit(self, k: int) -> None:
        if k < len(self._todo) and self._todo[k].name not in self._futures:
            e = self._todo[k]
            self._futures[e.name] = self._pool.submit(plain_copy, self._m, e, self._tmp)

    def get(self, entry: FileEntry) -> tuple[Path, int] | None:
        """(plain copy, line breaks) of `entry`, or None when the file is read as delivered."""
        if entry not in self._todo:
            return None
        k = self._todo.index(entry)
        self._submit(k)
        self._submit(k + 1)
        return self._futures[entry.name].result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _stage_file(
    con: duckdb.DuckDBPyConnection,
    manifest: Manifest,
    i: int,
    entry: FileEntry,
    copies: _PlainCopies,
    breaks: int | None,
) -> _Staged:
    st = _Staged(i, entry)
    header = read_header(manifest, entry)
    st.rid_pos = header.contract_pos["record_id"]
    path = manifest.drop_dir / entry.name
    copy = copies.get(entry)
    if copy is not None:
        path, breaks = copy
    try:
        # Line breaks inside fields are counted only when the file has more than one per row.
        count = breaks is None or breaks != entry.rows
        con.execute(stage_sql(manifest, entry, header, path, st.stage, st.rj, st.rs, count))
    except duckdb.IOException:
        raise
    except duckdb.Error as exc:
        raise DropError(
            manifest.drop_id, entry.name, f"DuckDB cannot read it as CSV: {exc}"
        ) from None
    finally:
        if copy is not None:
            path.unlink(missing_ok=True)

    enc = con.execute(
        f"select min(line), count(*) from {st.rj} where error_type = 'INVALID ENCODING'"
    ).fetchone()
    if enc[1]:
        raise DropError(
            manifest.drop_id,
            entry.name,
            f"data row {enc[0] - 1} (and {enc[1] - 1} more): bytes that are not valid UTF-8 "
            f"(manifest declares utf-8)",
            f"ask the hospital to re-deliver drop {manifest.drop_id} in UTF-8, or with "
            f'"encoding": "gb18030" in its manifest if that is what the file is',
        )
    st.n_good = con.execute(f"select count(*) from {st.stage}").fetchone()[0]
    st.n_bad = con.execute(f"select count(distinct line) from {st.rj}").fetchone()[0]
    read = st.n_good + st.n_bad
    if read != entry.rows:
        raise DropError(
            manifest.drop_id,
            entry.name,
            f"row count mismatch: the manifest says {entry.rows:,} data rows, the file has "
            f"{read:,} ({st.n_bad:,} of them malformed)",
        )

    # Malformed rows, keyed by the number of good rows before each: k -> malformed so far.
    con.execute(
        f"""create temp table {st.bk} as
        select k, max(cnt) as cnt from (
            select line - 1 - row_number() over (order by line) as k,
                   row_number() over (order by line) as cnt
            from (select distinct line from {st.rj})
        ) group by k"""
    )
    if st.n_bad:
        # Good rows between two malformed rows share one ordinal offset. Cut those segments at
        # every _BUCKET-th row so the insert finds each row's offset with an equality hash join
        # on rowid // _BUCKET (an ASOF join sorts the whole staged file and holds it in memory).
        con.execute(
            f"""create temp table {st.seg} as
            with segs as (
                select k::bigint as lo,
                       coalesce(lead(k) over (order by k), {st.n_good})::bigint as hi,
                       cnt::bigint as off
                from {st.bk}
                union all
                select 0, coalesce((select min(k) from {st.bk}), {st.n_good})::bigint, 0
            )
            select unnest(range(lo // {_BUCKET}, (hi - 1) // {_BUCKET} + 1)) as b, lo, hi, off
            from segs where hi > lo"""
        )
    # Exact duplicates: an exact copy has the same record_id, so group on that first (cheap),
    # then compare every contract column inside the groups of repeated record_ids. Unknown extra
    # columns are not compared (they are ignored downstream; an export retried mid-file may
    # stamp them differently); the quarantined copy keeps its own in raw_record.
    cols = ", ".join(q(c) for c in contract.TABLES[entry.table])
    con.execute(
        f"""create temp table {st.dup} as
        with groups as (
            select record_id from {st.stage} group by record_id having count(*) > 1
        ),
        cand as (
            select rowid as rid, * from {st.stage}
            where record_id in (select record_id from groups)
               or (record_id is null and (select count(*) from groups where record_id is null) > 0)
        ),
        ranked as (
            select rid, first_value(rid) over w as first_rid, row_number() over w as rn
            from cand window w as (partition by {cols} order by rid)
        )
        select rid, first_rid from ranked where rn > 1"""
    )
    st.n_dup = con.execute(f"select count(*) from {st.dup}").fetchone()[0]
    # Everything that goes to quarantine from the parsed rows: duplicates first, then rules.
    con.execute(
        f"""create temp table {st.qr} as
        select u_.rid, {st.ordinal("u_.rid")} as ord, u_.reason, u_.detail from (
            select d_.rid, 'exact_duplicate' as reason,
                   'exact copy of data row ' || {st.ordinal("d_.first_rid")} as detail
            from {st.dup} d_
            union all
            select s_.rowid as rid, s_._reason, dt_.detail
            from {st.stage} s_ join ({detail_sql(manifest, entry.table, st.stage)}) dt_
                on s_.rowid = dt_.rid
            where s_.rowid not in (select rid from {st.dup})
        ) u_"""
    )
    st.n_rule = con.execute(f"select count(*) from {st.qr}").fetchone()[0] - st.n_dup
    return st


def _line_sql(st: _Staged, ord_expr: str) -> str:
    """SQL: physical line of data row `ord_expr` (header line 1 + line breaks inside earlier rows)."""
    nl_good = (
        f"select {st.ordinal('g_.rowid')} as ord, g_._nl as n from {st.stage} g_ where g_._nl > 0"
        if st.n_good
        else "select null::bigint as ord, 0 as n where false"
    )
    nl_bad = (
        f"select line - 1 as ord, length(ltrim(csv_line, chr(13) || chr(10))) - "
        f"length(replace(ltrim(csv_line, chr(13) || chr(10)), chr(10), '')) as n "
        f"from (select line, min(csv_line) as csv_line from {st.rj} group by line)"
    )
    return (
        f"({ord_expr} + 1 + coalesce((select sum(nl_.n) from ({nl_good} union all {nl_bad}) nl_ "
        f"where nl_.ord < {ord_expr}), 0))"
    )


def _write_file(
    con: duckdb.DuckDBPyConnection, m: Manifest, st: _Staged, loaded_at: datetime
) -> dict:
    """Insert one staged file into raw.<table>, raw.quarantine, raw.reconciliation."""
    e = st.entry
    cols = [*contract.TABLES[e.table], "_extra"]
    collist = ", ".join(q(c) for c in cols)
    meta = [lit(m.drop_id), lit(m.kind), "?", lit(e.name)]
    if st.n_bad:
        ordinal = "s.rowid + 1 + g_.off"
        source = (
            f"{st.stage} s join {st.seg} g_ on g_.b = s.rowid // {_BUCKET} "
            f"and s.rowid >= g_.lo and s.rowid < g_.hi"
        )
    else:
        ordinal, source = "s.rowid + 1", f"{st.stage} s"
    con.execute(
        f"""insert into raw.{e.table} ({collist}, _drop_id, _drop_kind, _extracted_at, _file,
            _row, _loaded_at)
        select {", ".join(f"s.{q(c)}" for c in cols)}, {", ".join(meta)}, {ordinal}, ?
        from {source}
        where s._reason is null and s.rowid not in (select rid from {st.dup})""",
        [m.extracted_at, loaded_at],
    )
    record = ", ".join(f"{lit(c)}, {q(c)}" for c in contract.TABLES[e.table])
    con.execute(
        f"""insert into raw.quarantine
        select {lit(m.drop_id)}, {lit(e.table)}, {lit(e.name)}, {_line_sql(st, "qr.ord")},
               qr.ord, nullif(trim(s.record_id), ''), qr.reason, qr.detail,
               json_object({record}, '_extra', _extra::json)::varchar
        from {st.qr} qr join {st.stage} s on s.rowid = qr.rid"""
    )
    rid_pos = st.rid_pos
    con.execute(
        f"""insert into raw.quarantine
        select {lit(m.drop_id)}, {lit(e.table)}, {lit(e.name)}, {_line_sql(st, "r_.line - 1")},
               r_.line - 1,
               case when not contains(rec, '"')
                    then nullif(trim(string_split(rec, ',')[{rid_pos + 1}]), '') end,
               'malformed_row', msg, rec
        from (select line, min(error_message) as msg,
                     min(ltrim(csv_line, chr(13) || chr(10))) as rec
              from {st.rj} group by line) r_"""
    )
    got = con.execute(
        f"""select
            (select count(*) from raw.{e.table} where _drop_id = ? and _file = ?),
            (select count(*) filter (where reason = 'exact_duplicate')
             from raw.quarantine where drop_id = ? and file = ?),
            (select count(*) filter (where reason <> 'exact_duplicate')
             from raw.quarantine where drop_id = ? and file = ?)""",
        [m.drop_id, e.name] * 3,
    ).fetchone()
    rows_read = st.n_good + st.n_bad
    rec = dict(
        zip(
            _RECON_COLS,
            (m.drop_id, e.table, e.name, e.rows, rows_read, got[0], got[1], got[2]),
            strict=False,
        )
    )
    rec["balanced"] = rows_read == got[0] + got[1] + got[2] and e.rows == rows_read
    if not rec["balanced"] or got[1] != st.n_dup or got[2] != st.n_bad + st.n_rule:
        raise IldwhError(
            f"drop {m.drop_id}: {e.name}: reconciliation does not balance (read {rows_read}, "
            f"loaded {got[0]}, duplicate {got[1]}, quarantined {got[2]}, manifest {e.rows}); "
            f"nothing of the drop was written. Fix: this is a loader bug, report it with the drop."
        )
    con.execute(
        f"insert into raw.reconciliation values ({', '.join('?' for _ in _RECON_COLS)})",
        [rec[c] for c in _RECON_COLS],
    )
    return rec


def load_drop(
    db_path: Path,
    drop_dir: Path,
    force: bool = False,
    progress: Progress = None,
    later: Sequence[str] = (),
) -> DropResult:
    """Verify one drop and load it in one transaction (or skip it if already loaded).

    Raises
    ------
    DropError (an IldwhError) when the drop is refused; its message names the drop, the file,
    the problem, the fix and the `later` drops held back. Nothing of the drop is written.
    """
    say = progress or (lambda _msg: None)
    con = connect(Path(db_path))
    staged: list[_Staged] = []
    try:
        try:
            m = read_manifest(Path(drop_dir))
            status = drop_status(con, m, force)
            if status == "skipped":
                say(f"drop {m.drop_id}: already loaded (same manifest), skipped")
                return DropResult(m.drop_id, "skipped")
            breaks = verify_files(m)
            say(f"drop {m.drop_id}: manifest and {len(m.files)} checksum(s) verified")
            with tempfile.TemporaryDirectory(prefix="ildwh-load-") as tmp:
                copies = _PlainCopies(m, Path(tmp))
                try:
                    for i, entry in enumerate(m.files):
                        staged.append(_stage_file(con, m, i, entry, copies, breaks[entry.name]))
                        say(f"drop {m.drop_id}: {entry.name} parsed ({entry.rows:,} rows)")
                finally:
                    copies.close()
        except DropError as exc:
            raise exc.with_later(list(later)) from None
        loaded_at = _now_local()
        con.execute("begin transaction")
        try:
            if status == "replace":
                for t in contract.TABLES:
                    con.execute(f"delete from raw.{t} where _drop_id = ?", [m.drop_id])
                for t in ("quarantine", "reconciliation"):
                    con.execute(f"delete from raw.{t} where drop_id = ?", [m.drop_id])
                con.execute("delete from raw.drops where drop_id = ?", [m.drop_id])
            recon = [_write_file(con, m, st, loaded_at) for st in staged]
            n_loaded = sum(r["rows_loaded"] for r in recon)
            n_quar = sum(r["rows_duplicate"] + r["rows_quarantined"] for r in recon)
            con.execute(
                "insert into raw.drops values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    m.drop_id,
                    m.kind,
                    m.extracted_at,
                    m.source_system,
                    m.encoding,
                    m.manifest_sha256,
                    len(m.files),
                    m.rows_manifest,
                    n_loaded,
                    n_quar,
                    loaded_at,
                ],
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        say(
            f"drop {m.drop_id}: {'replaced' if status == 'replace' else 'loaded'} "
            f"{n_loaded:,} rows, quarantined {n_quar:,}"
        )
        return DropResult(m.drop_id, "replaced" if status == "replace" else "loaded", recon)
    finally:
        for st in staged:
            for t in st.temps:
                con.execute(f"drop table if exists {t}")
        con.close()


def load_extracts(
    extract_root: Path, db_path: Path, force: bool = False, progress: Progress = None
) -> LoadReport:
    """Load every new drop under `extract_root` into `db_path`, in drop_id order.

    A refused drop raises DropError; the drops before it in this run stay loaded, the later ones
    are not loaded (the message names them).
    """
    drops = discover_drops(Path(extract_root))
    results = []
    for i, d in enumerate(drops):
        later = [p.name for p in drops[i + 1 :]]
        results.append(load_drop(Path(db_path), d, force=force, progress=progress, later=later))
    return LoadReport.from_results(results)
