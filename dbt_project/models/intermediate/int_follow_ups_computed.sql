-- Protocol section 7 (follow-up and outcome): time zero = index date. Death date = from the
-- current `dead` vital-status row with the latest status_date: its death_date, else status_date.
-- Event = death on or before var admin_end_date. Otherwise censored at the latest contact (any
-- vital-status row; any diagnosis, lab, imaging or finding dated on or before the administrative
-- end), capped at the administrative end (a death after the administrative end is censored there). Follow-up <= 0 days is kept as var min_follow_up_days.
-- One row per screened patient.
with screened as (
    select * from {{ ref('int_patients_screened') }}
),

deaths as (
    select person_key, arg_max(coalesce(death_date, status_date), status_date) as death_date
    from {{ ref('stg_ehr__vital_statuses') }}
    where vital_status = 'dead'
    group by person_key
),

clinical_contacts as (
    select person_key, dx_date as contact_date from {{ ref('stg_ehr__diagnoses') }}
    union all
    select person_key, cast(collected_at as date) from {{ ref('stg_ehr__lab_results') }}
    union all
    select person_key, study_date from {{ ref('stg_ehr__imaging_reads') }}
    union all
    select person_key, finding_date from {{ ref('stg_ehr__clinical_findings') }}
),

contacts as (
    select person_key, status_date as contact_date from {{ ref('stg_ehr__vital_statuses') }}
    union all
    select person_key, contact_date
    from clinical_contacts
    where contact_date <= cast('{{ var("admin_end_date") }}' as date)
),

last_contacts as (
    select person_key, max(contact_date) as last_contact_date
    from contacts
    group by person_key
),

outcomes as (
    select
        screened.person_key,
        screened.index_date,
        deaths.death_date,
        coalesce(deaths.death_date <= cast('{{ var("admin_end_date") }}' as date), false) as died,
        case
            when deaths.death_date > cast('{{ var("admin_end_date") }}' as date)
                then cast('{{ var("admin_end_date") }}' as date)
            else least(
                coalesce(last_contacts.last_contact_date, screened.index_date),
                cast('{{ var("admin_end_date") }}' as date)
            )
        end as censor_date,
    from screened
    left join deaths on deaths.person_key = screened.person_key
    left join last_contacts on last_contacts.person_key = screened.person_key
),

computed as (
    select
        person_key,
        index_date,
        death_date,
        case when died then death_date else censor_date end as end_date,
        cast(died as integer) as event,
        {{ days_from('index_date', 'case when died then death_date else censor_date end') }} as raw_time_days,
    from outcomes
),

timed as (
    select
        *,
        case when raw_time_days <= 0 then {{ var('min_follow_up_days') }} else raw_time_days end::double as time_days,
        raw_time_days <= 0 as follow_up_floored,
    from computed
)

select * from timed
