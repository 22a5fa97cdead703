-- Current vital-status contacts (raw-extract-contract.md "vital_status"), one row per contact
-- record; status mapped to alive / dead (seed value_vocabulary), else `unknown`.
with current_rows as (
    {{ current_records(source('ehr', 'vital_status')) }}
),

statuses as (
    select * from {{ ref('value_vocabulary') }} where domain = 'vital_status'
),

typed as (
    select
        trim(current_rows.record_id) as record_id,
        {{ person_key('current_rows.mrn') }} as person_key,
        {{ parse_local_date('current_rows.status_date') }} as status_date,
        coalesce(statuses.value, 'unknown') as vital_status,
        {{ parse_local_date('current_rows.death_date') }} as death_date,
        lower(trim(current_rows.source)) as contact_source,
        current_rows.updated_at_ts as updated_at,
    from current_rows
    left join statuses on statuses.raw_value = lower(trim(current_rows.status))
)

select * from typed
