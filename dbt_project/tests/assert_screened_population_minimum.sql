-- Guard: a build whose screened population is smaller than `min_screened_patients` must not
-- publish (e.g. a full drop that arrived without its diagnoses table would empty the cohort).
-- Default 1: an empty cohort fails. Returns one row (a failure) when the guard trips.
with screened as (
    select count(*) as n_screened from {{ ref('cohort') }}
)

select n_screened
from screened
where n_screened < {{ var('min_screened_patients', 1) }}
