-- Current lab results (raw-extract-contract.md "lab_results"), one row per result record. The
-- local test code maps to an analyte (seed lab_codes); the result is parsed as the analyte needs
-- (numeric with qualifier and unit conversion to the canonical unit, ANA titre, line-blot grade).
-- A result that cannot be used keeps its row with NULL value and a `value_status` reason.
-- value_titre is the highest titre the result shows: `<1:80` -> 40 (two-fold dilutions), a
-- negative word -> 0, `>1:1000` -> 1000.
with current_rows as (
    {{ current_records(source('ehr', 'lab_results')) }}
),

lab_codes as (
    select upper(trim(test_code)) as test_code_key, nullif(trim(analyte), '') as analyte
    from {{ ref('lab_codes') }}
),

coded as (
    select
        trim(current_rows.record_id) as record_id,
        {{ person_key('current_rows.mrn') }} as person_key,
        {{ parse_local_timestamp('current_rows.collected_at') }} as collected_at,
        trim(current_rows.test_code) as test_code,
        lab_codes.test_code_key is not null as is_catalogued,
        lab_codes.analyte,
        lab_analytes.value_kind,
        nullif(trim(current_rows.result_text), '') as result_text,
        trim(current_rows.unit) as unit,
        {{ normalise_unit('current_rows.unit') }} as unit_key,
        trim(current_rows.ref_range_text) as ref_range_text,
        upper(trim(current_rows.abnormal_flag)) as abnormal_flag,
        current_rows.updated_at_ts as updated_at,
    from current_rows
    left join lab_codes on lab_codes.test_code_key = upper(trim(current_rows.test_code))
    left join {{ ref('lab_analytes') }} as lab_analytes on lab_analytes.analyte = lab_codes.analyte
),

parsed as (
    select
        coded.*,
        {{ parse_qualified_number('coded.result_text') }} as number_as_reported,
        {{ parse_qualified_number('coded.result_text', 'qualifier') }} as value_qualifier,
        {{ parse_titre('coded.result_text') }} as titre_denominator,
        {{ parse_titre('coded.result_text', 'qualifier') }} as titre_qualifier,
        coalesce(grades.value, ana_words.value) as grade,
        try_cast(
            nullif(
                regexp_extract(coalesce(coded.ref_range_text, ''), '^\s*(?:[0-9.]+\s*[-~～]\s*)?(?:<=|<|≤)?\s*([0-9]+(?:\.[0-9]+)?)', 1), ''
            ) as double
        ) as ref_high_as_reported,
        conversions.factor as unit_factor,
    from coded
    left join {{ ref('value_vocabulary') }} as grades
        on
            coded.value_kind = 'grade' and grades.domain = 'antibody_grade'
            and grades.raw_value = lower(trim(coded.result_text))
    left join {{ ref('value_vocabulary') }} as ana_words
        on
            coded.value_kind = 'titre' and ana_words.domain = 'ana_word'
            and ana_words.raw_value = lower(trim(coded.result_text))
    left join {{ ref('lab_unit_conversions') }} as conversions
        on
            conversions.analyte = coded.analyte
            and {{ normalise_unit('conversions.unit') }} = coded.unit_key
),

classified as (
    select
        parsed.*,
        case
            when not parsed.is_catalogued then 'unmapped_code'
            when parsed.analyte is null then 'unused_code'
            when parsed.result_text is null then 'blank'
            when parsed.value_kind = 'numeric' and parsed.number_as_reported is null then 'not_numeric'
            when parsed.value_kind = 'numeric' and parsed.unit_factor is null then 'unit_not_convertible'
            when parsed.value_kind = 'titre' and parsed.titre_denominator is null and parsed.grade is null then 'not_titre'
            when parsed.value_kind = 'grade' and parsed.grade is null then 'not_grade'
            else 'ok'
        end as value_status,
    from parsed
),

valued as (
    select
        classified.*,
        case
            when
                classified.value_status = 'ok' and classified.value_kind = 'numeric'
                then classified.number_as_reported * classified.unit_factor
        end as value_numeric,
        case
            when
                classified.value_status = 'ok' and classified.value_kind = 'numeric'
                then classified.ref_high_as_reported * classified.unit_factor
        end as ref_high,
        case
            when classified.value_status <> 'ok' or classified.value_kind <> 'titre' then null
            when classified.titre_denominator is null then 0
            when classified.titre_qualifier = '<' then classified.titre_denominator / 2
            else classified.titre_denominator
        end as value_titre,
        case when classified.value_status = 'ok' and classified.value_kind = 'grade' then classified.grade end as value_grade,
    from classified
)

select * from valued
