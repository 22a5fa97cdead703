-- Protocol section 6 (baseline labs as analysis variables): the selected baseline results
-- (int_lab_baselines_selected) as one column per analyte in canonical units; ANA positive when the
-- titre is >= 1:var ana_positive_min_titre (a `<` titre is below its number); a line-blot antibody
-- is positive for grade `positive`, and for `weak` only when var weak_positive_counts_positive;
-- LDH above normal when baseline LDH > var ldh_uln_u_per_l. NULL when no baseline result.
-- One row per screened patient.
with baselines as (
    select * from {{ ref('int_lab_baselines_selected') }}
),

with_flags as (
    select
        *,
        case
            when analyte = 'ANA' then value_titre >= {{ var('ana_positive_min_titre') }}
            when value_grade = 'positive' then true
            when value_grade = 'weak' then {{ var('weak_positive_counts_positive') }}
            when value_grade = 'negative' then false
        end as is_positive,
    from baselines
),

pivoted as (
    select
        anchors.person_key,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'WBC') as wbc_10e9_per_l,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'LYM') as lymphocyte_10e9_per_l,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'HB') as hb_g_per_l,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'PLT') as plt_10e9_per_l,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'HSCRP') as hscrp_mg_per_l,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'ESR') as esr_mm_per_h,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'ALB') as alb_g_per_l,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'ALT') as alt_u_per_l,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'AST') as ast_u_per_l,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'CK') as ck_u_per_l,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'CKMB') as ckmb_u_per_l,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'LDH') as ldh_u_per_l,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'B2MG') as b2mg_mg_per_l,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'FERRITIN') as ferritin_ug_per_l,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'PAO2') as pao2_mmhg,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'OI') as oi_mmhg,
        max(with_flags.value_numeric) filter (where with_flags.analyte = 'LACTATE') as lactate_mmol_per_l,
        bool_or(with_flags.is_positive) filter (where with_flags.analyte = 'ANA') as ana_positive,
        bool_or(with_flags.is_positive) filter (where with_flags.analyte = 'MDA5') as anti_mda5,
        bool_or(with_flags.is_positive) filter (where with_flags.analyte = 'JO1') as anti_jo1,
        bool_or(with_flags.is_positive) filter (where with_flags.analyte = 'PL7') as anti_pl7,
        bool_or(with_flags.is_positive) filter (where with_flags.analyte = 'PL12') as anti_pl12,
        bool_or(with_flags.is_positive) filter (where with_flags.analyte = 'EJ') as anti_ej,
        bool_or(with_flags.is_positive) filter (where with_flags.analyte = 'MI2') as anti_mi2,
        bool_or(with_flags.is_positive) filter (where with_flags.analyte = 'SRP') as anti_srp,
        bool_or(with_flags.is_positive) filter (where with_flags.analyte = 'RO52') as anti_ro52,
        bool_or(with_flags.is_positive) filter (where with_flags.analyte = 'PMSCL75') as anti_pmscl75,
        bool_or(with_flags.is_positive) filter (where with_flags.analyte = 'PMSCL100') as anti_pmscl100,
        bool_or(with_flags.is_positive) filter (where with_flags.analyte = 'SSA') as anti_ssa,
        bool_or(with_flags.is_positive) filter (where with_flags.analyte = 'KU') as anti_ku,
        bool_or(with_flags.is_positive) filter (where with_flags.analyte = 'U1RNP') as anti_u1rnp,
    from {{ ref('int_patients_screened') }} as anchors
    left join with_flags on with_flags.person_key = anchors.person_key
    group by anchors.person_key
),

derived as (
    select
        *,
        ldh_u_per_l > {{ var('ldh_uln_u_per_l') }} as ldh_above_normal,
    from pivoted
)

select * from derived
