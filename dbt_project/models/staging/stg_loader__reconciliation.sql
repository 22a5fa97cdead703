-- The loader's reconciliation: one row per drop and file, with the row counts that must balance.
with reconciliation as (
    select
        drop_id,
        table_name,
        file,
        rows_manifest,
        rows_read,
        rows_loaded,
        rows_duplicate,
        rows_quarantined,
        balanced,
    from {{ source('loader', 'reconciliation') }}
)

select * from reconciliation
