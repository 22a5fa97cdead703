-- Protocol section 4 (analysis groups and control diagnosis): group = ADM or control, by pattern.
-- A control's diagnosis is the first that applies: IPAF (present IPAF_CRITERIA_MET finding on or
-- before index + var ipaf_window_end_days), its CTD category when it has exactly one
-- (int_ctd_categories_counted), MPA (any M31.7 diagnosis, seed icd_code_sets `mpa`), COP when the
-- pattern is OP, else IIP. One row per analysed patient; control_diagnosis NULL for ADM.
with classified as (
    select * from {{ ref('int_adm_statuses_classified') }}
),

ipaf as (
    select distinct findings.person_key
    from {{ ref('stg_ehr__clinical_findings') }} as findings
    inner join classified on classified.person_key = findings.person_key
    inner join {{ ref('finding_code_groups') }} as groups
        on groups.finding_code = findings.finding_code and groups.finding_group = 'ipaf'
    where
        findings.is_present
        and findings.finding_date <= classified.index_date + {{ var('ipaf_window_end_days') }}
),

mpa as (
    select distinct diagnoses.person_key
    from {{ ref('stg_ehr__diagnoses') }} as diagnoses
    inner join {{ ref('icd_code_sets') }} as codes
        on codes.code_set = 'mpa' and starts_with(diagnoses.icd10_code, codes.code_prefix)
),

assigned as (
    select
        classified.person_key,
        classified.index_date,
        classified.hrct_pattern,
        classified.is_adm,
        (case when classified.is_adm then 'ADM' else 'control' end) || '-' || classified.hrct_pattern as analysis_group,
        case
            when classified.is_adm then null
            when ipaf.person_key is not null then 'IPAF'
            when ctd.ctd_category is not null then ctd.ctd_category
            when mpa.person_key is not null then 'MPA'
            when classified.hrct_pattern = 'OP' then 'COP'
            else 'IIP'
        end as control_diagnosis,
    from classified
    left join ipaf on ipaf.person_key = classified.person_key
    left join {{ ref('int_ctd_categories_counted') }} as ctd on ctd.person_key = classified.person_key
    left join mpa on mpa.person_key = classified.person_key
)

select * from assigned
