"""Row-level quarantine rules of the raw extract contract, as set-based DuckDB SQL.

One rule per reason of `contract.QUARANTINE_REASONS`, checked in that order; a row gets the first
reason that applies (its `detail` says which column and value). Exact duplicates are found
separately (they need the whole file), see `loader._find_duplicates`.
"""

from __future__ import annotations

from datetime import datetime

from ildwh import contract


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


_FORMATS = "[" + ", ".join(lit(f) for f in contract.DATE_FORMATS) + "]"

# `ildwh_ts(v)`: a contract date/timestamp -> TIMESTAMP in Asia/Shanghai local time, NULL when
# blank or in no contract format. A trailing `+08:00`-style offset is converted to local (+8 h,
# no daylight saving since 1991). `try_strptime` with a list of formats is slow (~2 us a value),
# so the common shapes go to the one format they can match; anything else (spaces, offsets,
# single-digit months, Chinese dates) takes the full list.
# `ildwh_blank(v)`: NULL, empty or only spaces. Only a value that sorts before '!' (empty, or
# starting with a space or a control character) is trimmed, so the common case is one comparison.


_FAST = (  # (condition on v, format): the shapes a value can only match in one format
    ("strlen(v) = 19 and v[11] = ' '", "%Y-%m-%d %H:%M:%S"),
    ("strlen(v) = 16 and v[11] = ' '", "%Y-%m-%d %H:%M"),
    ("strlen(v) = 10 and v[5] = '-'", "%Y-%m-%d"),
    ("strlen(v) = 10 and v[5] = '/'", "%Y/%m/%d"),
    ("strlen(v) = 8 and v[1] in ('1', '2')", "%Y%m%d"),
    ("strlen(v) = 17 and v[5] = '年'", "%Y年%m月%d日"),
)
_FAST_OFFSET = (  # timestamp + `+08:00`-style offset: (length, format of the part before it)
    (25, "%Y-%m-%d %H:%M:%S"),
    (22, "%Y-%m-%d %H:%M"),
)


def _fast_branches() -> str:
    out = [f"when {cond} then try_strptime(v, {lit(fmt)})" for cond, fmt in _FAST]
    for n, fmt in _FAST_OFFSET:
        k = n - 6  # length of the local part
        out.append(
            f"when strlen(v) = {n} and v[11] = ' ' and v[{k + 1}] in ('+', '-') "
            f"and v[{k + 4}] = ':' "
            f"then try_strptime(left(v, {k}), {lit(fmt)}) + ildwh_offset(right(v, 6))"
        )
    return "\n        ".join(out)


MACROS = f"""
create or replace temp macro ildwh_blank(v) as (
    v is null or (v < '!' and trim(v) = '')
);
create or replace temp macro ildwh_offset(o) as (
    case when o = '+08:00' then interval 0 minute
    else to_minutes(8 * 60 - (case when o[1] = '-' then -1 else 1 end)
                    * (try_cast(o[2:3] as integer) * 60 + try_cast(o[5:6] as integer)))
    end
);
create or replace temp macro ildwh_ts_any(t) as (
    case
        when strlen(t) > 6 and t[-6] in ('+', '-') and t[-3] = ':'
        then try_strptime(rtrim(t[:-7]), {_FORMATS}) + ildwh_offset(t[-6:])
        else try_strptime(t, {_FORMATS})
    end
);
create or replace temp macro ildwh_ts(v) as (
    case
        when v is null then null
        {_fast_branches()}
        else ildwh_ts_any(trim(v))
    end
);
"""


def parsed_columns(table: str) -> list[str]:
    """The columns parsed as timestamps for `table` (updated_at first)."""
    return ["updated_at", *contract.DATE_COLUMNS.get(table, ())]


def parsed_name(col: str) -> str:
    return f"_p_{col}"


def reason_sql(table: str, extracted_at: datetime) -> tuple[str, str]:
    """SQL expressions (reason, detail) over the contract columns and `_p_<col>` parses.

    NULL reason = the row passes every row-level rule.
    """
    ext = f"timestamp {lit(extracted_at.strftime('%Y-%m-%d %H:%M:%S'))}"
    rules: list[tuple[str, str, str]] = [
        ("missing_record_id", "ildwh_blank(record_id)", "'record_id is blank'"),
        ("missing_mrn", "ildwh_blank(mrn)", "'mrn is blank'"),
        (
            "bad_updated_at",
            "_p_updated_at is null",
            "'updated_at ' || coalesce('''' || updated_at || '''', 'is blank') "
            "|| ' is not a contract timestamp'",
        ),
        (
            "bad_is_deleted",
            "(is_deleted not in ('0', '1') and trim(is_deleted) not in ('0', '1', ''))",
            "'is_deleted ''' || is_deleted || ''' is not 0, 1 or blank'",
        ),
    ]
    dates = contract.DATE_COLUMNS.get(table, ())
    for col in dates:
        c, p = q(col), q(parsed_name(col))
        if (table, col) in contract.OPTIONAL_DATE_COLUMNS:
            cond = f"(not ildwh_blank({c}) and {p} is null)"
        else:
            cond = f"(ildwh_blank({c}) or {p} is null)"
        detail = (
            f"case when ildwh_blank({c}) then '{col} is blank' "
            f"else '{col} ''' || {c} || ''' is in no contract date format' end"
        )
        rules.append(("unparseable_date", cond, detail))
    for col in dates:
        c, p = q(col), q(parsed_name(col))
        rules.append(
            (
                "future_date",
                f"{p} > {ext}",
                f"'{col} ''' || {c} || ''' is after the drop''s extracted_at "
                f"{extracted_at:%Y-%m-%d %H:%M:%S}'",
            )
        )
    for col in dates:
        c, p = q(col), q(parsed_name(col))
        rules.append(
            (
                "date_before_1900",
                f"{p} < timestamp '1900-01-01'",
                f"'{col} ''' || {c} || ''' is before 1900-01-01'",
            )
        )
    if table == "clinical_findings":
        codes = ", ".join(lit(c) for c in contract.FINDING_CODES)
        rules.append(
            (
                "unknown_finding_code",
                f"(ildwh_blank(finding_code) or (finding_code not in ({codes}) "
                f"and upper(trim(finding_code)) not in ({codes})))",
                "'finding_code ' || coalesce('''' || finding_code || '''', 'blank') "
                "|| ' is not in the contract list'",
            )
        )
    for reason, _, _ in rules:
        assert reason in contract.QUARANTINE_REASONS, reason
    reason = "case " + " ".join(f"when {c} then {lit(r)}" for r, c, _ in rules) + " end"
    detail = "case " + " ".join(f"when {c} then {d}" for _, c, d in rules) + " end"
    return reason, detail
