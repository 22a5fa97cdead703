-- Protocol section 3, exclusion 4 (treated before data collection): a glucocorticoid or
-- immunosuppressant course (int_drug_courses_classified.is_treatment) that started within
-- [var prior_treatment_window_start_days, var prior_treatment_window_end_days] of index, or that
-- started earlier and whose end date is blank or on or after index + window end.
-- One row per screened patient who meets the rule.
with screened as (
    select * from {{ ref('int_patients_screened') }}
),

prior_courses as (
    select courses.person_key, courses.record_id
    from {{ ref('int_drug_courses_classified') }} as courses
    inner join screened on screened.person_key = courses.person_key
    where
        courses.is_treatment
        and (
            {{ within_days('courses.start_date', 'screened.index_date', 'prior_treatment_window_start_days', 'prior_treatment_window_end_days') }}
            or (
                courses.start_date < screened.index_date + {{ var('prior_treatment_window_start_days') }}
                and (
                    courses.end_date is null
                    or courses.end_date >= screened.index_date + {{ var('prior_treatment_window_end_days') }}
                )
            )
        )
),

flagged as (
    select person_key, count(*) as n_prior_courses
    from prior_courses
    group by person_key
)

select * from flagged
