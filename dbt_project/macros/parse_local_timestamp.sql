{#- A contract date or timestamp (raw-extract-contract.md "Dates") as a local Asia/Shanghai
    TIMESTAMP: `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYYMMDD`, `YYYY-MM-DD HH:MM[:SS]`, `YYYY年MM月DD日`;
    a value ending in a UTC offset (`+08:00`) is converted to Asia/Shanghai local time.
    NULL when blank or in no format (the loader quarantines those for clinical dates). -#}
{% macro parse_local_timestamp(expr) -%}
case
    when regexp_matches(trim({{ expr }}), '[+-][0-9]{2}:?[0-9]{2}$')
        then timezone('Asia/Shanghai', try_strptime(trim({{ expr }}), ['%Y-%m-%d %H:%M%z', '%Y-%m-%d %H:%M:%S%z', '%Y-%m-%dT%H:%M%z', '%Y-%m-%dT%H:%M:%S%z']))
    else try_strptime(nullif(trim({{ expr }}), ''), ['%Y-%m-%d', '%Y-%m-%d %H:%M', '%Y-%m-%d %H:%M:%S', '%Y/%m/%d', '%Y%m%d', '%Y-%m-%dT%H:%M', '%Y-%m-%dT%H:%M:%S', '%Y年%m月%d日', '%Y/%m/%d %H:%M', '%Y/%m/%d %H:%M:%S'])
end
{%- endmacro %}
