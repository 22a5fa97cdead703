{#- Parse an ANA titre `1:320`, `<1:40`, `>1:1000` (spaces allowed). part='denominator' gives the
    DOUBLE denominator (NULL when not a titre), part='qualifier' gives `<`, `>` or NULL. -#}
{% macro parse_titre(expr, part='denominator') -%}
{%- set cleaned -%}
replace(replace(replace(regexp_replace(coalesce({{ expr }}, ''), '\s+', '', 'g'), '：', ':'), '≤', '<='), '≥', '>=')
{%- endset -%}
{%- set pattern = '^(<=|>=|<|>)?1:([0-9]+)$' -%}
{%- if part == 'denominator' -%}
try_cast(nullif(regexp_extract({{ cleaned }}, '{{ pattern }}', 2), '') as double)
{%- else -%}
nullif(regexp_extract({{ cleaned }}, '{{ pattern }}', 1), '')
{%- endif -%}
{%- endmacro %}
