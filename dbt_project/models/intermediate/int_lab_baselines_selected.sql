-- Protocol section 6 (baseline values): per analyte (and OI), the usable result closest in
-- calendar days to index within [var baseline_window_start_days, var baseline_window_end_days],
-- collected strictly before the treatment start date (no limit when untreated); ties go to the
-- earlier collection time, then to the larger record_id (as text).
-- One row per screened patient and analyte that has a baseline value.
with anchors as (
    select * from {{ ref('int_treatment_starts_found') }}
),

usable_results as (
    select record_id, person_key, collected_at, analyte, value_numeric, value_titre, value_grade
    from {{ ref('stg_ehr__lab_results') }}
    where value_status = 'ok'
    union all
    select record_id, person_key, collected_at, 'OI', oi_mmhg, null, null
    from {{ ref('int_oxygenation_indices_computed') }}
),

candidates as (
    select
        usable_results.*,
        anchors.index_date,
        abs({{ days_from('anchors.index_date', 'cast(usable_results.collected_at as date)') }}) as days_from_index,
    from usable_results
    inner join anchors on anchors.person_key = usable_results.person_key
    where
        {{ within_days('cast(usable_results.collected_at as date)', 'anchors.index_date', 'baseline_window_start_days', 'baseline_window_end_days') }}
        and (anchors.treatment_start_date is null or cast(usable_results.collected_at as date) < anchors.treatment_start_date)
),

selected as (
    select *
    from candidates
    qualify row_number() over (
        partition by person_key, analyte
        order by days_from_index asc, collected_at asc, record_id desc
    ) = 1
)

select * from selected
