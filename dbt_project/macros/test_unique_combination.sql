{#- Generic data test: the combination of `columns` is unique in the model (no hub package
    dbt_utils here). Fails with one row per duplicated combination. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
