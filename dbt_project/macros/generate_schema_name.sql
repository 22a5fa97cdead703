{#- Schemas are used verbatim: a model configured with +schema: staging lands in `staging`
    (not `<target>_staging`), so analysts and the publish step see `staging`, `intermediate`,
    `marts` and `seeds` whatever the target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
