-- The attrition report (protocol sections 1-4, the paper's flow chart): screened, then one row per
-- exclusion step in seed exclusion_steps order (patients remaining after it and excluded by it),
-- then one row per analysis group (n_remaining = group size, n_excluded = 0).
with cohort as (
    select * from {{ ref('cohort') }}
),

steps as (
    select * from {{ ref('exclusion_steps') }}
),

screened as (
    select 0 as step_order, 'screened' as step, count(*) as n_remaining, 0 as n_excluded
    from cohort
),

excluded_per_step as (
    select
        steps.step_order,
        steps.exit_reason as step,
        count(cohort.person_key) as n_excluded,
    from steps
    left join cohort on cohort.exit_reason = steps.exit_reason
    group by steps.step_order, steps.exit_reason
),

exclusion_rows as (
    select
        step_order,
        step,
        (select n_remaining from screened)
        - sum(n_excluded) over (order by step_order rows between unbounded preceding and current row) as n_remaining,
        n_excluded,
    from excluded_per_step
),

group_names as (
    select 1 as group_order, 'ADM-NSIP' as analysis_group
    union all
    select 2, 'control-NSIP'
    union all
    select 3, 'ADM-OP'
    union all
    select 4, 'control-OP'
),

group_rows as (
    select
        (select max(step_order) from steps) + group_names.group_order as step_order,
        group_names.analysis_group as step,
        count(cohort.person_key) as n_remaining,
        0 as n_excluded,
    from group_names
    left join cohort on cohort.analysis_group = group_names.analysis_group
    group by group_names.group_order, group_names.analysis_group
),

attrition as (
    select
        cast(step_order + 1 as integer) as step_order,
        step,
        cast(n_remaining as integer) as n_remaining,
        cast(n_excluded as integer) as n_excluded,
    from (
        select * from screened
        union all
        select * from exclusion_rows
        union all
        select * from group_rows
    ) as all_rows
)

select * from attrition
