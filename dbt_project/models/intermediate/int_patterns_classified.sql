-- Protocol section 2 (HRCT pattern at initial presentation): candidate studies are HRCT reads
-- (plain CT excluded) dated within [var imaging_window_start_days, var imaging_window_end_days]
-- of index; the earliest such date is the initial study. Its pattern is the consensus read, else
-- the R1 and R2 reads when both exist and agree (on the normalised class), else unresolved.
-- NSIP / OP come from seed hrct_pattern_map; unresolved or no study -> `other`.
-- One row per screened patient.
with screened as (
    select * from {{ ref('int_patients_screened') }}
),

candidate_reads as (
    select reads.*, screened.index_date
    from {{ ref('stg_ehr__imaging_reads') }} as reads
    inner join screened on screened.person_key = reads.person_key
    where
        reads.modality = 'HRCT'
        and {{ within_days('reads.study_date', 'screened.index_date', 'imaging_window_start_days', 'imaging_window_end_days') }}
),

initial_reads as (
    select *
    from candidate_reads
    qualify study_date = min(study_date) over (partition by person_key)
),

study_reads as (
    select
        person_key,
        min(study_date) as initial_study_date,
        arg_max(pattern_class, record_id) filter (where reader = 'consensus') as consensus_pattern,
        arg_max(pattern_class, record_id) filter (where reader = 'r1') as r1_pattern,
        arg_max(pattern_class, record_id) filter (where reader = 'r2') as r2_pattern,
    from initial_reads
    group by person_key
),

classified as (
    select
        screened.person_key,
        screened.index_date,
        study_reads.initial_study_date,
        case
            when study_reads.consensus_pattern is not null then study_reads.consensus_pattern
            when study_reads.r1_pattern = study_reads.r2_pattern then study_reads.r1_pattern
            else 'other'
        end as hrct_pattern,
        case
            when study_reads.person_key is null then 'no_study'
            when study_reads.consensus_pattern is not null then 'consensus'
            when study_reads.r1_pattern = study_reads.r2_pattern then 'readers_agree'
            else 'unresolved'
        end as pattern_source,
    from screened
    left join study_reads on study_reads.person_key = screened.person_key
)

select * from classified
