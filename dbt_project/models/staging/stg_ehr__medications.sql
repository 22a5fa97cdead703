-- Current medication courses (raw-extract-contract.md "medications"), one row per course record.
-- ATC code as delivered, else looked up by drug name (case-insensitive, trimmed) in seed
-- drug_names; `atc_source` says which (`atc`, `name`, `unmatched_name`).
with current_rows as (
    {{ current_records(source('ehr', 'medications')) }}
),

drug_names as (
    select lower(trim(name)) as drug_name_key, any_value(atc_code) as atc_code
    from {{ ref('drug_names') }}
    group by 1
),

typed as (
    select
        trim(current_rows.record_id) as record_id,
        {{ person_key('current_rows.mrn') }} as person_key,
        trim(current_rows.drug_name) as drug_name,
        coalesce(nullif(upper(trim(current_rows.atc_code)), ''), drug_names.atc_code) as atc_code,
        case
            when nullif(trim(current_rows.atc_code), '') is not null then 'atc'
            when drug_names.atc_code is not null then 'name'
            else 'unmatched_name'
        end as atc_source,
        {{ parse_local_date('current_rows.start_date') }} as start_date,
        {{ parse_local_date('current_rows.end_date') }} as end_date,
        lower(trim(current_rows.route)) as route,
        current_rows.updated_at_ts as updated_at,
    from current_rows
    left join drug_names on drug_names.drug_name_key = lower(trim(current_rows.drug_name))
)

select * from typed
