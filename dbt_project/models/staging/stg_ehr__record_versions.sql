-- noqa: disable=LT02,RF03
-- (a Jinja loop over eight tables: sqlfluff cannot judge its indentation or qualification)
-- Every delivered version of every clinical record that a delta drop delivered (raw-extract-contract.md
-- "Rows, versions and deletes"), not only the current one: one row per loaded raw row, keyed by
-- person_key, with the version's drop, updated_at and delete flag, its clinical date and the few
-- typed fields that say what the record holds. No direct identifier is selected. Read by
-- marts.record_changes ("what changed in the last drop").
{%- set tables = {
    'patients': {'date': 'null', 'code': "coalesce(sex_vocab.value, 'unknown')", 'label': "coalesce(smoking_vocab.value, 'unknown')", 'value': 'null', 'unit': 'null'},
    'diagnoses': {'date': 'dx_date', 'code': normalise_icd('rows.icd10_code'), 'label': 'lower(trim(rows.department))', 'value': 'null', 'unit': 'null'},
    'clinical_findings': {'date': 'finding_date', 'code': 'upper(trim(rows.finding_code))', 'label': 'null', 'value': 'booleans.value', 'unit': 'null'},
    'lab_results': {'date': 'collected_at', 'code': 'upper(trim(rows.test_code))', 'label': 'trim(rows.test_name)', 'value': "nullif(trim(rows.result_text), '')", 'unit': "nullif(trim(rows.unit), '')"},
    'pulmonary_function': {'date': 'test_date', 'code': 'null', 'label': 'null', 'value': "concat_ws('/', coalesce(nullif(trim(rows.fev1_pct_pred), ''), '-'), coalesce(nullif(trim(rows.fvc_pct_pred), ''), '-'), coalesce(nullif(trim(rows.dlco_pct_pred), ''), '-'))", 'unit': "'% pred'"},
    'imaging': {'date': 'study_date', 'code': 'upper(trim(rows.modality))', 'label': 'lower(trim(rows.reader))', 'value': "nullif(trim(rows.pattern), '')", 'unit': 'null'},
    'medications': {'date': 'start_date', 'code': "coalesce(nullif(upper(trim(rows.atc_code)), ''), drug_names.atc_code)", 'label': 'trim(rows.drug_name)', 'value': 'null', 'unit': 'null'},
    'vital_status': {'date': 'status_date', 'code': "coalesce(statuses.value, 'unknown')", 'label': 'null', 'value': 'cast(' ~ parse_local_date('rows.death_date') ~ ' as varchar)', 'unit': 'null'},
} %}
with vocabulary as (
    select * from {{ ref('value_vocabulary') }}
),

drug_names as (
    select lower(trim(name)) as drug_name_key, any_value(atc_code) as atc_code
    from {{ ref('drug_names') }}
    group by 1
),

versions as (
{%- for table, f in tables.items() %}
    select
        '{{ table }}' as table_name,
        trim(rows.record_id) as record_id,
        {{ person_key('rows.mrn') }} as person_key,
        rows._drop_id as drop_id,
        rows._drop_kind as drop_kind,
        rows._row as source_row,
        {{ parse_local_timestamp('rows.updated_at') }} as updated_at,
        coalesce(trim(rows.is_deleted), '') = '1' as is_deleted,
        {% if f.date == 'null' %}cast(null as date){% else %}{{ parse_local_date('rows.' ~ f.date) }}{% endif %} as clinical_date,
        cast({{ f.code }} as varchar) as code,
        cast({{ f.label }} as varchar) as label,
        cast({{ f.value }} as varchar) as value_text,
        cast({{ f.unit }} as varchar) as unit,
    from {{ source('ehr', table) }} as rows
    {%- if table == 'patients' %}
    left join vocabulary as sex_vocab
        on sex_vocab.domain = 'sex' and sex_vocab.raw_value = lower(trim(rows.sex))
    left join vocabulary as smoking_vocab
        on smoking_vocab.domain = 'smoking_status' and smoking_vocab.raw_value = lower(trim(rows.smoking_status))
    {%- elif table == 'clinical_findings' %}
    left join vocabulary as booleans
        on booleans.domain = 'boolean' and booleans.raw_value = lower(trim(rows.present))
    {%- elif table == 'medications' %}
    left join drug_names on drug_names.drug_name_key = lower(trim(rows.drug_name))
    {%- elif table == 'vital_status' %}
    left join vocabulary as statuses
        on statuses.domain = 'vital_status' and statuses.raw_value = lower(trim(rows.status))
    {%- endif %}
    -- only records that a delta drop delivered: no other record appears in record_changes, and
    -- hashing every version of every record was most of this model's cost
    where trim(rows.record_id) in (
        select trim(delta_rows.record_id) from {{ source('ehr', table) }} as delta_rows
        where delta_rows._drop_kind = 'delta'
    )
    {% if not loop.last %}union all{% endif %}
{%- endfor %}
),

ranked as (
    select
        versions.*,
        row_number() over (
            partition by table_name, record_id order by drop_id, updated_at nulls last, source_row
        ) as delivery_number,
        row_number() over (
            partition by table_name, record_id order by updated_at desc nulls last, drop_id desc, source_row desc
        ) = 1 as is_latest_version,
    from versions
)

select * from ranked
