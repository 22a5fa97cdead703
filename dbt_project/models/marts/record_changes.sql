-- What each delta drop changed (raw-extract-contract.md "Rows, versions and deletes"): one row per
-- record version delivered in a DELTA drop, classified as `new` (first delivery of the record_id),
-- `updated` (a later version of a record delivered before) or `deleted` (is_deleted = 1), with a
-- summary of the clinically relevant content and no identifier. `ildwh diff` joins it to the
-- patients whose cohort status or figures changed between two published runs.
with versions as (
    select * from {{ ref('stg_ehr__record_versions') }}
),

lab_codes as (
    select upper(trim(test_code)) as test_code_key, any_value(nullif(trim(analyte), '')) as analyte
    from {{ ref('lab_codes') }}
    group by 1
),

delta_versions as (
    select
        versions.*,
        lab_codes.analyte,
        case
            when versions.is_deleted then 'deleted'
            when versions.delivery_number = 1 then 'new'
            else 'updated'
        end as change_type,
        coalesce(strftime(versions.clinical_date, '%Y-%m-%d'), '?') as on_date,
    from versions
    left join lab_codes
        on versions.table_name = 'lab_results' and lab_codes.test_code_key = versions.code
    where versions.drop_kind = 'delta'
),

summarised as (
    select
        drop_id,
        table_name,
        record_id,
        person_key,
        change_type,
        updated_at as changed_at,
        case table_name
            when 'lab_results'
                then
                    'lab ' || coalesce(analyte, code || ' (unmapped code)')
                    || ' collected ' || on_date || ': ' || coalesce(value_text, '(blank)')
                    || coalesce(' ' || unit, '')
            when 'diagnoses'
                then
                    'diagnosis ' || coalesce(nullif(code, ''), '(no code)')
                    || ' dated ' || on_date
            when 'clinical_findings'
                then
                    'finding ' || coalesce(code, '?') || ' '
                    || case value_text
                        when 'true' then 'present' when 'false' then 'absent'
                        else 'presence unknown'
                    end
                    || ' on ' || on_date
            when 'medications'
                then
                    'medication ' || coalesce(code, 'no ATC') || ' '
                    || coalesce(label, '') || ' started ' || on_date
            when 'imaging'
                then
                    'imaging ' || coalesce(code, '?') || ' ' || coalesce(label, '?')
                    || ' read: ' || coalesce(value_text, '(no pattern)') || ' on ' || on_date
            when 'vital_status'
                then
                    'vital status ' || code || ' on ' || on_date
                    || coalesce(' (death ' || value_text || ')', '')
            when 'pulmonary_function'
                then
                    'lung function on ' || on_date || ': FEV1/FVC/DLco '
                    || value_text || ' ' || unit
            when 'patients' then 'patient record: sex ' || code || ', smoking ' || label
        end as summary,
        is_latest_version as is_current_version,
        source_row,
    from delta_versions
)

select
    drop_id,
    table_name,
    record_id,
    person_key,
    change_type,
    changed_at,
    case change_type when 'deleted' then 'deleted: ' || summary else summary end as summary,
    is_current_version,
    source_row,
from summarised
