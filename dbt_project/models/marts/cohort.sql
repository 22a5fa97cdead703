-- The study cohort (protocol sections 1-4): one row per screened patient with its index date,
-- initial HRCT pattern, the attrition step where it left (or `analysed`), its analysis group and,
-- for controls, the control diagnosis.
with applied as (
    select * from {{ ref('int_exclusions_applied') }}
),

groups as (
    select * from {{ ref('int_control_diagnoses_assigned') }}
),

cohort as (
    select
        applied.person_key,
        applied.index_date,
        applied.hrct_pattern,
        applied.exit_reason,
        groups.analysis_group,
        groups.control_diagnosis,
    from applied
    left join groups on groups.person_key = applied.person_key
)

select * from cohort
