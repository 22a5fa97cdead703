-- Protocol sections 3.4, 3.5 and 6 (drug lists): each current medication course classified by
-- its ATC code (or name -> ATC, in staging) against seed atc_code_sets; the longest matching
-- prefix decides, so `L04AX05` pirfenidone (excluded) overrides `L04A` (included).
-- One row per medication course.
with courses as (
    select * from {{ ref('stg_ehr__medications') }}
),

prefix_matches as (
    select
        courses.record_id,
        sets.code_set,
        arg_max(sets.included, length(sets.atc_prefix)) as included,
    from courses
    inner join {{ ref('atc_code_sets') }} as sets on starts_with(courses.atc_code, sets.atc_prefix)
    group by courses.record_id, sets.code_set
),

classified as (
    select
        courses.*,
        coalesce(treatment.included, false) as is_treatment,
        coalesce(inducing.included, false) as is_cutaneous_ctd_inducing,
    from courses
    left join prefix_matches as treatment
        on treatment.record_id = courses.record_id and treatment.code_set = 'treatment'
    left join prefix_matches as inducing
        on inducing.record_id = courses.record_id and inducing.code_set = 'cutaneous_ctd_inducing'
)

select * from classified
