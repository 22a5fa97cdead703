-- Protocol section 6 (lung function baseline): per measure (FEV1, FVC, DLco % predicted), the
-- test with a usable value closest in calendar days to index within
-- [var baseline_window_start_days, var baseline_window_end_days] and strictly before treatment
-- start; ties go to the earlier test time, then the larger record_id.
-- One row per screened patient (NULL measures when no such test).
with anchors as (
    select * from {{ ref('int_treatment_starts_found') }}
),

measures as (
    unpivot {{ ref('stg_ehr__pulmonary_function_tests') }}
    on fev1_pct_pred, fvc_pct_pred, dlco_pct_pred
    into name measure value measure_value
),

candidates as (
    select
        measures.person_key,
        measures.record_id,
        measures.tested_at,
        measures.measure,
        measures.measure_value,
        abs({{ days_from('anchors.index_date', 'measures.test_date') }}) as days_from_index,
    from measures
    inner join anchors on anchors.person_key = measures.person_key
    where
        measures.measure_value is not null
        and {{ within_days('measures.test_date', 'anchors.index_date', 'baseline_window_start_days', 'baseline_window_end_days') }}
        and (anchors.treatment_start_date is null or measures.test_date < anchors.treatment_start_date)
    qualify row_number() over (
        partition by measures.person_key, measures.measure
        order by days_from_index asc, measures.tested_at asc, measures.record_id desc
    ) = 1
),

selected as (
    select
        anchors.person_key,
        max(candidates.measure_value) filter (where candidates.measure = 'fev1_pct_pred') as fev1_pct_pred,
        max(candidates.measure_value) filter (where candidates.measure = 'fvc_pct_pred') as fvc_pct_pred,
        max(candidates.measure_value) filter (where candidates.measure = 'dlco_pct_pred') as dlco_pct_pred,
    from anchors
    left join candidates on candidates.person_key = anchors.person_key
    group by anchors.person_key
)

select * from selected
