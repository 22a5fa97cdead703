-- Current diagnoses (raw-extract-contract.md "diagnoses"), one row per diagnosis record, with the
-- ICD-10 code normalised for prefix matching (case, spaces, national extension digits).
with current_rows as (
    {{ current_records(source('ehr', 'diagnoses')) }}
),

typed as (
    select
        trim(record_id) as record_id,
        {{ person_key('mrn') }} as person_key,
        {{ parse_local_date('dx_date') }} as dx_date,
        icd10_code as icd10_code_raw,
        {{ normalise_icd('icd10_code') }} as icd10_code,
        lower(trim(department)) as department,
        lower(trim(dx_type)) as dx_type,
        updated_at_ts as updated_at,
    from current_rows
)

select * from typed
