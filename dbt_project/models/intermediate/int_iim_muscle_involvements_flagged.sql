-- Protocol section 3, exclusion 1 (IIM with muscle involvement): an IIM diagnosis (seed
-- icd_code_sets, code_set `iim`: M33, M60.8, G72.4; any date) and either a CK above the upper
-- limit of normal (the row's own reference-range high end, else var ck_uln_u_per_l) or a present
-- muscle finding (seed finding_code_groups, `muscle_involvement`), each within
-- [var iim_muscle_window_start_days, var iim_muscle_window_end_days] of index.
-- One row per screened patient who meets the rule.
with screened as (
    select * from {{ ref('int_patients_screened') }}
),

iim_patients as (
    select distinct diagnoses.person_key
    from {{ ref('stg_ehr__diagnoses') }} as diagnoses
    inner join {{ ref('icd_code_sets') }} as codes
        on codes.code_set = 'iim' and starts_with(diagnoses.icd10_code, codes.code_prefix)
),

elevated_ck as (
    select distinct labs.person_key
    from {{ ref('stg_ehr__lab_results') }} as labs
    inner join screened on screened.person_key = labs.person_key
    where
        labs.analyte = 'CK'
        and labs.value_numeric > coalesce(labs.ref_high, {{ var('ck_uln_u_per_l') }})
        and {{ within_days('cast(labs.collected_at as date)', 'screened.index_date', 'iim_muscle_window_start_days', 'iim_muscle_window_end_days') }}
),

muscle_findings as (
    select distinct findings.person_key
    from {{ ref('stg_ehr__clinical_findings') }} as findings
    inner join screened on screened.person_key = findings.person_key
    inner join {{ ref('finding_code_groups') }} as groups
        on
            groups.finding_code = findings.finding_code
            and groups.finding_group = 'muscle_involvement'
    where
        findings.is_present
        and {{ within_days('findings.finding_date', 'screened.index_date', 'iim_muscle_window_start_days', 'iim_muscle_window_end_days') }}
),

flagged as (
    select
        screened.person_key,
        elevated_ck.person_key is not null as has_elevated_ck,
        muscle_findings.person_key is not null as has_muscle_finding,
    from screened
    inner join iim_patients on iim_patients.person_key = screened.person_key
    left join elevated_ck on elevated_ck.person_key = screened.person_key
    left join muscle_findings on muscle_findings.person_key = screened.person_key
    where elevated_ck.person_key is not null or muscle_findings.person_key is not null
)

select * from flagged
