{#- True when calendar date `date_expr` lies within [anchor + start, anchor + end] days, both ends
    included (study-protocol.md: "within [a, b] days of X"); start/end are var names. -#}
{% macro within_days(date_expr, anchor, start_var, end_var) -%}
({{ date_expr }} between {{ anchor }} + {{ var(start_var) }} and {{ anchor }} + {{ var(end_var) }})
{%- endmacro %}
