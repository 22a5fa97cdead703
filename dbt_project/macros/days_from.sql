{#- Whole calendar days from `anchor` to `event` (negative when event is earlier). -#}
{% macro days_from(anchor, event) -%}
date_diff('day', {{ anchor }}, {{ event }})
{%- endmacro %}
