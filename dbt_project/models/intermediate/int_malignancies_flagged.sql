-- Protocol section 3, exclusion 2 (malignancy at diagnosis): any diagnosis in seed icd_code_sets
-- code_set `malignancy` (C00-C97) dated within [var malignancy_window_start_days,
-- var malignancy_window_end_days] of index. One row per screened patient who meets the rule.
with screened as (
    select * from {{ ref('int_patients_screened') }}
),

malignancy_diagnoses as (
    select diagnoses.person_key, diagnoses.dx_date
    from {{ ref('stg_ehr__diagnoses') }} as diagnoses
    inner join screened on screened.person_key = diagnoses.person_key
    where
        {{ within_days('diagnoses.dx_date', 'screened.index_date', 'malignancy_window_start_days', 'malignancy_window_end_days') }}
        and exists (
            select 1 from {{ ref('icd_code_sets') }} as codes
            where codes.code_set = 'malignancy' and starts_with(diagnoses.icd10_code, codes.code_prefix)
        )
),

flagged as (
    select person_key, min(dx_date) as first_malignancy_date
    from malignancy_diagnoses
    group by person_key
)

select * from flagged
