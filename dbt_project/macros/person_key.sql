{#- The pseudonym of a patient: first 32 hex chars of HMAC-SHA256(key, upper(trim(mrn))).
    HMAC = H((K ^ opad) || H((K ^ ipad) || message)); the two padded keys are DuckDB variables
    set on every connection by the plugin `ildwh.dbt_plugin`, so the key never appears in SQL.
    Reference implementation: `ildwh.keys.person_key` (tests/dbt checks they agree). -#}
{% macro person_key(mrn_expr) -%}
left(sha256(unhex(getvariable('ildwh_hmac_opad')) || unhex(sha256(unhex(getvariable('ildwh_hmac_ipad')) || encode(upper(trim({{ mrn_expr }})))))), 32)
{%- endmacro %}
