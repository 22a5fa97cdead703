-- Protocol section 6 (derived baseline variables) for analysed patients: age in completed years
-- between birth date and index date; male = sex male on the current patient record (NULL when
-- unknown); smoking history = smoking status current or former (never/unknown -> false); plus the
-- lab, lung function, skin and systemic-symptom baselines of the models they come from.
-- One row per analysed patient.
with analysed as (
    select * from {{ ref('int_control_diagnoses_assigned') }}
),

demographics as (
    select
        analysed.person_key,
        cast(
            year(analysed.index_date) - year(patients.birth_date)
            - case
                when
                    (month(analysed.index_date), day(analysed.index_date))
                    < (month(patients.birth_date), day(patients.birth_date)) then 1
                else 0
            end as double
        ) as age_years,
        case patients.sex when 'male' then true when 'female' then false end as male,
        coalesce(patients.smoking_status in ('current', 'former'), false) as smoking_history,
    from analysed
    left join {{ ref('stg_ehr__patients') }} as patients on patients.person_key = analysed.person_key
),

derived as (
    select
        analysed.*,
        demographics.* exclude (person_key),
        labs.* exclude (person_key),
        lung.* exclude (person_key),
        skin.* exclude (person_key, has_dm_skin_finding),
        symptoms.systemic_symptoms,
    from analysed
    inner join demographics on demographics.person_key = analysed.person_key
    inner join {{ ref('int_baseline_labs_pivoted') }} as labs on labs.person_key = analysed.person_key
    inner join {{ ref('int_lung_function_baselines_selected') }} as lung on lung.person_key = analysed.person_key
    inner join {{ ref('int_skin_findings_summarised') }} as skin on skin.person_key = analysed.person_key
    inner join {{ ref('int_systemic_symptoms_flagged') }} as symptoms on symptoms.person_key = analysed.person_key
)

select * from derived
