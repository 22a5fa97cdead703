-- Protocol section 6 (treatment start): the earliest start date on or after index of any
-- glucocorticoid or immunosuppressant course (rule 3.4's list, int_drug_courses_classified).
-- One row per screened patient; treatment_start_date NULL when never treated (no limit).
with screened as (
    select * from {{ ref('int_patients_screened') }}
),

treatment_courses as (
    select courses.person_key, courses.start_date
    from {{ ref('int_drug_courses_classified') }} as courses
    inner join screened on screened.person_key = courses.person_key
    where courses.is_treatment and courses.start_date >= screened.index_date
),

found as (
    select screened.person_key, screened.index_date, min(treatment_courses.start_date) as treatment_start_date
    from screened
    left join treatment_courses on treatment_courses.person_key = screened.person_key
    group by screened.person_key, screened.index_date
)

select * from found
