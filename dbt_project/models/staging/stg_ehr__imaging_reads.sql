-- Current imaging reads (raw-extract-contract.md "imaging"), one row per read record (a study
-- date may have several readers). Pattern text normalised (case, spaces around `/`) and mapped
-- to NSIP / OP / other through seed hrct_pattern_map (unknown text -> other).
with current_rows as (
    {{ current_records(source('ehr', 'imaging')) }}
),

pattern_map as (
    select * from {{ ref('hrct_pattern_map') }}
),

typed as (
    select
        trim(record_id) as record_id,
        {{ person_key('mrn') }} as person_key,
        {{ parse_local_date('study_date') }} as study_date,
        upper(trim(modality)) as modality,
        lower(trim(reader)) as reader,
        lower(trim(regexp_replace(regexp_replace(coalesce(pattern, ''), '\s*/\s*', '/', 'g'), '\s+', ' ', 'g'))) as pattern_text,
        updated_at_ts as updated_at,
    from current_rows
),

classified as (
    select
        typed.*,
        coalesce(pattern_map.pattern_class, 'other') as pattern_class,
    from typed
    left join pattern_map on pattern_map.raw_pattern = typed.pattern_text
)

select * from classified
