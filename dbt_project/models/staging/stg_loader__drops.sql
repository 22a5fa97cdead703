-- The loaded drops: one row per drop (manifest summary and load time).
with drops as (
    select
        drop_id,
        kind,
        extracted_at,
        source_system,
        encoding,
        manifest_sha256,
        n_files,
        rows_manifest,
        rows_loaded,
        rows_quarantined,
        loaded_at,
    from {{ source('loader', 'drops') }}
)

select * from drops
