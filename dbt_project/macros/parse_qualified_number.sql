{#- Parse a lab result as a possibly qualified number: ` 6.9 `, `6,9` (decimal comma), `<5`,
    `>1000`, `≤0.5`, `>= 3`. part='value' gives the DOUBLE (NULL when not a number),
    part='qualifier' gives `<`, `>`, `<=`, `>=` or NULL. -#}
{% macro parse_qualified_number(expr, part='value') -%}
{%- set cleaned -%}
replace(replace(replace(regexp_replace(coalesce({{ expr }}, ''), '\s+', '', 'g'), ',', '.'), '≤', '<='), '≥', '>=')
{%- endset -%}
{%- set pattern = '^(<=|>=|<|>)?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)$' -%}
{%- if part == 'value' -%}
try_cast(nullif(regexp_extract({{ cleaned }}, '{{ pattern }}', 2), '') as double)
{%- else -%}
nullif(regexp_extract({{ cleaned }}, '{{ pattern }}', 1), '')
{%- endif -%}
{%- endmacro %}
