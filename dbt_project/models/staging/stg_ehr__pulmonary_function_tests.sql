-- Current pulmonary function tests (raw-extract-contract.md "pulmonary_function"), one row per
-- test record; % predicted values parsed as numbers (blank or not a number -> NULL).
with current_rows as (
    {{ current_records(source('ehr', 'pulmonary_function')) }}
),

typed as (
    select
        trim(record_id) as record_id,
        {{ person_key('mrn') }} as person_key,
        {{ parse_local_timestamp('test_date') }} as tested_at,
        {{ parse_local_date('test_date') }} as test_date,
        {{ parse_qualified_number('fev1_pct_pred') }} as fev1_pct_pred,
        {{ parse_qualified_number('fvc_pct_pred') }} as fvc_pct_pred,
        {{ parse_qualified_number('dlco_pct_pred') }} as dlco_pct_pred,
        updated_at_ts as updated_at,
    from current_rows
)

select * from typed
