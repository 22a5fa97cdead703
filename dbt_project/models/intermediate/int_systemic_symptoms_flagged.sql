-- Protocol section 6 (systemic symptoms): any present FEVER, RAYNAUD, ARTHRALGIA, ARTHRITIS,
-- WEIGHT_LOSS or FATIGUE finding (seed finding_code_groups, `systemic_symptom`) within
-- [var systemic_symptom_window_start_days, var systemic_symptom_window_end_days] of index.
-- One row per screened patient; never NULL.
with screened as (
    select * from {{ ref('int_patients_screened') }}
),

symptom_patients as (
    select distinct findings.person_key
    from {{ ref('stg_ehr__clinical_findings') }} as findings
    inner join screened on screened.person_key = findings.person_key
    inner join {{ ref('finding_code_groups') }} as groups
        on groups.finding_code = findings.finding_code and groups.finding_group = 'systemic_symptom'
    where
        findings.is_present
        and {{ within_days('findings.finding_date', 'screened.index_date', 'systemic_symptom_window_start_days', 'systemic_symptom_window_end_days') }}
),

flagged as (
    select screened.person_key, symptom_patients.person_key is not null as systemic_symptoms
    from screened
    left join symptom_patients on symptom_patients.person_key = screened.person_key
)

select * from flagged
