-- Protocol section 6 (OI): oxygenation index = PaO2 (mmHg) / FiO2 (fraction) from the same blood
-- gas sample, i.e. the same patient and collection time; FiO2 in % was divided by 100 in staging
-- (seed lab_unit_conversions). One row per usable PaO2 result with a usable FiO2 at the same time
-- (the FiO2 with the larger record_id when several).
with usable_results as (
    select * from {{ ref('stg_ehr__lab_results') }}
    where value_status = 'ok' and analyte in ('PAO2', 'FIO2')
),

fio2 as (
    select person_key, collected_at, arg_max(value_numeric, record_id) as fio2_fraction
    from usable_results
    where analyte = 'FIO2' and value_numeric > 0
    group by person_key, collected_at
),

computed as (
    select
        pao2.record_id,
        pao2.person_key,
        pao2.collected_at,
        pao2.value_numeric as pao2_mmhg,
        fio2.fio2_fraction,
        pao2.value_numeric / fio2.fio2_fraction as oi_mmhg,
    from usable_results as pao2
    inner join fio2 on fio2.person_key = pao2.person_key and fio2.collected_at = pao2.collected_at
    where pao2.analyte = 'PAO2'
)

select * from computed
