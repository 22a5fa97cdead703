-- Protocol sections 4 and 6 (DM skin findings): present skin findings dated on or before index +
-- var adm_window_end_days (no lower bound), summarised per screened patient: any DM skin finding
-- (hallmark, minor or OTHER_DM_RASH; seed finding_code_groups) and the Table 1 flags.
-- One row per screened patient; flags are never NULL.
with screened as (
    select * from {{ ref('int_patients_screened') }}
),

skin_findings as (
    select findings.person_key, groups.finding_group, groups.table1_flag
    from {{ ref('stg_ehr__clinical_findings') }} as findings
    inner join screened on screened.person_key = findings.person_key
    inner join {{ ref('finding_code_groups') }} as groups on groups.finding_code = findings.finding_code
    where
        findings.is_present
        and groups.finding_group like 'dm_skin_%'
        and findings.finding_date <= screened.index_date + {{ var('adm_window_end_days') }}
),

summarised as (
    select
        screened.person_key,
        count(skin_findings.finding_group) > 0 as has_dm_skin_finding,
        coalesce(bool_or(skin_findings.table1_flag = 'heliotrope_rash'), false) as heliotrope_rash,
        coalesce(bool_or(skin_findings.table1_flag = 'gottron_sign'), false) as gottron_sign,
        coalesce(bool_or(skin_findings.finding_group = 'dm_skin_minor'), false) as minor_cutaneous,
        coalesce(bool_or(skin_findings.table1_flag = 'mechanic_hands'), false) as mechanic_hands,
        coalesce(bool_or(skin_findings.table1_flag = 'v_sign'), false) as v_sign,
        coalesce(bool_or(skin_findings.table1_flag = 'cutaneous_ulcer'), false) as cutaneous_ulcer,
        coalesce(bool_or(skin_findings.table1_flag = 'poikiloderma'), false) as poikiloderma,
        coalesce(bool_or(skin_findings.table1_flag = 'holster_sign'), false) as holster_sign,
    from screened
    left join skin_findings on skin_findings.person_key = screened.person_key
    group by screened.person_key
)

select * from summarised
