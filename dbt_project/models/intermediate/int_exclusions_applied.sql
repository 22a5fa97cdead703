-- Protocol sections 2 and 3 (attrition): each screened patient leaves at the first step that
-- matches, in the order of seed exclusion_steps (pattern other, then exclusions 1-5); a patient
-- matching none is `analysed`. One row per screened patient.
with patterns as (
    select * from {{ ref('int_patterns_classified') }}
),

matches as (
    select person_key, 'pattern_not_nsip_op' as exit_reason from patterns where hrct_pattern = 'other'
    union all
    select person_key, 'iim_muscle_involvement' from {{ ref('int_iim_muscle_involvements_flagged') }}
    union all
    select person_key, 'malignancy' from {{ ref('int_malignancies_flagged') }}
    union all
    select person_key, 'multiple_ctd' from {{ ref('int_multiple_ctds_flagged') }}
    union all
    select person_key, 'prior_treatment' from {{ ref('int_prior_treatments_flagged') }}
    union all
    select person_key, 'drug_induced' from {{ ref('int_drug_inductions_flagged') }}
),

first_matches as (
    select matches.person_key, arg_min(matches.exit_reason, steps.step_order) as exit_reason
    from matches
    inner join {{ ref('exclusion_steps') }} as steps on steps.exit_reason = matches.exit_reason
    group by matches.person_key
),

applied as (
    select
        patterns.person_key,
        patterns.index_date,
        patterns.hrct_pattern,
        coalesce(first_matches.exit_reason, 'analysed') as exit_reason,
    from patterns
    left join first_matches on first_matches.person_key = patterns.person_key
)

select * from applied
