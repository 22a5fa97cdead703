-- Protocol section 4 (ADM, Sontheimer): an analysed patient is ADM when it has a dermatomyositis
-- diagnosis (seed icd_code_sets, code_set `dermatomyositis`: M33.0, M33.1, M33.9) and a present DM
-- skin finding, both dated on or before index + var adm_window_end_days; no muscle involvement is
-- guaranteed by exclusion 1 having passed. Otherwise a control. One row per analysed patient.
with analysed as (
    select * from {{ ref('int_exclusions_applied') }} where exit_reason = 'analysed'
),

dm_diagnosed as (
    select distinct diagnoses.person_key
    from {{ ref('stg_ehr__diagnoses') }} as diagnoses
    inner join analysed on analysed.person_key = diagnoses.person_key
    inner join {{ ref('icd_code_sets') }} as codes
        on codes.code_set = 'dermatomyositis' and starts_with(diagnoses.icd10_code, codes.code_prefix)
    where diagnoses.dx_date <= analysed.index_date + {{ var('adm_window_end_days') }}
),

classified as (
    select
        analysed.person_key,
        analysed.index_date,
        analysed.hrct_pattern,
        dm_diagnosed.person_key is not null and skin.has_dm_skin_finding as is_adm,
    from analysed
    inner join {{ ref('int_skin_findings_summarised') }} as skin on skin.person_key = analysed.person_key
    left join dm_diagnosed on dm_diagnosed.person_key = analysed.person_key
)

select * from classified
