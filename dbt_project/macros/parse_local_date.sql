{#- The calendar date (Asia/Shanghai) of a contract date or timestamp; see parse_local_timestamp. -#}
{% macro parse_local_date(expr) -%}
cast({{ parse_local_timestamp(expr) }} as date)
{%- endmacro %}
