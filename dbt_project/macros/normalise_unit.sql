{#- A lab unit as written by the analyser, normalised for the conversion seed: trimmed,
    `µ`/`μ` written `u`, lower case, no inner spaces. -#}
{% macro normalise_unit(expr) -%}
lower(replace(replace(regexp_replace(coalesce({{ expr }}, ''), '\s+', '', 'g'), 'µ', 'u'), 'μ', 'u'))
{%- endmacro %}
