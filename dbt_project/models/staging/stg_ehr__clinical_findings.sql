-- Current clinical findings (raw-extract-contract.md "clinical_findings"), one row per finding
-- record; `present` parsed from the contract's boolean spellings (blank or unknown -> NULL).
with current_rows as (
    {{ current_records(source('ehr', 'clinical_findings')) }}
),

booleans as (
    select * from {{ ref('value_vocabulary') }} where domain = 'boolean'
),

typed as (
    select
        trim(current_rows.record_id) as record_id,
        {{ person_key('current_rows.mrn') }} as person_key,
        {{ parse_local_date('current_rows.finding_date') }} as finding_date,
        upper(trim(current_rows.finding_code)) as finding_code,
        cast(booleans.value as boolean) as is_present,
        current_rows.updated_at_ts as updated_at,
    from current_rows
    left join booleans on booleans.raw_value = lower(trim(current_rows.present))
)

select * from typed
