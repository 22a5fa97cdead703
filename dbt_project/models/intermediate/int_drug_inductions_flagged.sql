-- Protocol section 3, exclusion 5 (drug-induced cutaneous CTD features): any course of a drug on
-- the cutaneous-CTD-inducing list (seed atc_code_sets) starting before index +
-- var drug_induced_window_end_days (strictly; no lower bound).
-- One row per screened patient who meets the rule.
with screened as (
    select * from {{ ref('int_patients_screened') }}
),

inducing_courses as (
    select courses.person_key, courses.start_date
    from {{ ref('int_drug_courses_classified') }} as courses
    inner join screened on screened.person_key = courses.person_key
    where
        courses.is_cutaneous_ctd_inducing
        and courses.start_date < screened.index_date + {{ var('drug_induced_window_end_days') }}
),

flagged as (
    select person_key, min(start_date) as first_inducing_start_date
    from inducing_courses
    group by person_key
)

select * from flagged
