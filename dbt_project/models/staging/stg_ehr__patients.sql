-- Current patient records, one row per person (raw-extract-contract.md "patients"): the latest
-- updated_at wins per mrn (merged registrations). The mrn becomes person_key; name, id_number and
-- phone are not selected.
with current_rows as (
    {{ current_records(source('ehr', 'patients')) }}
),

vocabulary as (
    select * from {{ ref('value_vocabulary') }}
),

typed as (
    select
        {{ person_key('current_rows.mrn') }} as person_key,
        trim(current_rows.record_id) as record_id,
        coalesce(sex_vocab.value, 'unknown') as sex,
        {{ parse_local_date('current_rows.birth_date') }} as birth_date,
        coalesce(smoking_vocab.value, 'unknown') as smoking_status,
        current_rows.updated_at_ts as updated_at,
        current_rows._drop_id as drop_id,
    from current_rows
    left join vocabulary as sex_vocab
        on sex_vocab.domain = 'sex' and sex_vocab.raw_value = lower(trim(current_rows.sex))
    left join vocabulary as smoking_vocab
        on
            smoking_vocab.domain = 'smoking_status'
            and smoking_vocab.raw_value = lower(trim(current_rows.smoking_status))
),

latest_per_person as (
    select *
    from typed
    qualify row_number() over (
        partition by person_key order by updated_at desc, drop_id desc, record_id desc
    ) = 1
)

select * from latest_per_person
