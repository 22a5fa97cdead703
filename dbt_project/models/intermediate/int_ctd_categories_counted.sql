-- Protocol section 5 (CTD categories), as used by exclusion 3 (section 3.3) and the control
-- diagnosis (section 4): the distinct CTD categories (seed icd_code_sets, code_set `ctd`) among a
-- screened patient's diagnoses dated on or before index + var ctd_window_end_days. MCTD (M35.1) is
-- its own single category, not SLE + SSc + PM; another CTD diagnosed beside it is a second category.
-- One row per screened patient with at least one CTD category.
with screened as (
    select * from {{ ref('int_patients_screened') }}
),

patient_categories as (
    select distinct diagnoses.person_key, codes.category
    from {{ ref('stg_ehr__diagnoses') }} as diagnoses
    inner join screened on screened.person_key = diagnoses.person_key
    inner join {{ ref('icd_code_sets') }} as codes
        on codes.code_set = 'ctd' and starts_with(diagnoses.icd10_code, codes.code_prefix)
    where diagnoses.dx_date <= screened.index_date + {{ var('ctd_window_end_days') }}
),

counted as (
    select
        person_key,
        count(*) as n_ctd_categories,
        case when count(*) = 1 then min(category) end as ctd_category,
        string_agg(category, ',' order by category) as ctd_categories,
    from patient_categories
    group by person_key
)

select * from counted
