-- The loader's quarantine without the raw record (which holds identifiers): one row per
-- quarantined input row, for the data-quality report.
with quarantine as (
    select
        drop_id,
        table_name,
        file,
        line,
        row as row_number_in_file,
        record_id,
        reason,
        detail,
    from {{ source('loader', 'quarantine') }}
)

select * from quarantine
