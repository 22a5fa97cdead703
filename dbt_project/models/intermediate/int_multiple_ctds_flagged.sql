-- Protocol section 3, exclusion 3 (two or more connective tissue diseases): two or more distinct
-- CTD categories (int_ctd_categories_counted; DM counts, MCTD is one). One row per screened
-- patient who meets the rule.
with counted as (
    select * from {{ ref('int_ctd_categories_counted') }}
),

flagged as (
    select person_key, n_ctd_categories, ctd_categories
    from counted
    where n_ctd_categories >= 2
)

select * from flagged
