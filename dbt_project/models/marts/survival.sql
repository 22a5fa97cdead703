-- Survival data (protocol section 7): one row per analysed patient with follow-up time from the
-- index date in days and months (days / var days_per_month) and the event (1 died, 0 censored).
with groups as (
    select * from {{ ref('int_control_diagnoses_assigned') }}
),

follow_ups as (
    select * from {{ ref('int_follow_ups_computed') }}
),

survival as (
    select
        groups.person_key,
        groups.analysis_group,
        groups.hrct_pattern,
        groups.is_adm,
        cast(follow_ups.time_days as double) as time_days,
        cast(follow_ups.time_days / {{ var('days_per_month') }} as double) as time_months,
        cast(follow_ups.event as integer) as event,
    from groups
    inner join follow_ups on follow_ups.person_key = groups.person_key
)

select * from survival
