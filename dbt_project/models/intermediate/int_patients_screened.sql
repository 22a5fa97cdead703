-- Protocol section 1 (screening population): the index date is a patient's earliest ILD
-- diagnosis date (any department, any diagnosis type; ICD-10 prefixes in seed icd_code_sets,
-- code_set `ild`). A patient is screened when the index date falls in the study window
-- [var study_window_start, var study_window_end]; earlier first diagnoses are prevalent cases.
-- One row per screened patient.
with ild_codes as (
    select code_prefix from {{ ref('icd_code_sets') }} where code_set = 'ild'
),

ild_diagnoses as (
    select diagnoses.person_key, diagnoses.dx_date
    from {{ ref('stg_ehr__diagnoses') }} as diagnoses
    where
        diagnoses.dx_date is not null
        and exists (
            select 1 from ild_codes where starts_with(diagnoses.icd10_code, ild_codes.code_prefix)
        )
),

first_ild_diagnoses as (
    select person_key, min(dx_date) as index_date
    from ild_diagnoses
    group by person_key
),

screened as (
    select person_key, index_date
    from first_ild_diagnoses
    where
        index_date between cast('{{ var("study_window_start") }}' as date)
        and cast('{{ var("study_window_end") }}' as date)
)

select * from screened
