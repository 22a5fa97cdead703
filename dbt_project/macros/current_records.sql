{#- The current state of a raw table (raw-extract-contract.md "Rows, versions and deletes"):
    per record_id the row with the latest updated_at, ties to the later drop (then the later row of
    the file); that row removes the record when is_deleted = 1. Adds `updated_at_ts`. -#}
{% macro current_records(relation) -%}
select * exclude (version_rank)
from (
    select
        *,
        row_number() over (
            partition by trim(record_id)
            order by updated_at_ts desc nulls last, _drop_id desc, _row desc
        ) as version_rank
    from (
        select *, {{ parse_local_timestamp('updated_at') }} as updated_at_ts
        from {{ relation }}
    ) as parsed
) as versions
where version_rank = 1
    and coalesce(trim(is_deleted), '') <> '1'
{%- endmacro %}
