{#- An ICD-10 code as entered (`j84.102`, `J84.1 `, `J84.1x01`, `M3310`) normalised for prefix
    matching: upper case, no whitespace, a dot after the 3-character category when missing. -#}
{% macro normalise_icd(expr) -%}
regexp_replace(upper(regexp_replace(coalesce({{ expr }}, ''), '\s+', '', 'g')), '^([A-Z][0-9]{2})([0-9A-Z])', '\1.\2')
{%- endmacro %}
