-- Sample-ratio mismatch check: the holdout share of post-rollout tickets agrees with
-- the designed share (seed assistant_rollout). A binomial z-test (|z| < 3) rather than
-- a fixed ±3 pp band, which at a few hundred tickets fails by chance too often.
with

design as (

    select holdout_share from {{ ref('assistant_rollout') }}
    where category_code = '*'

),

observed as (

    select
        count(*) filter (where assignment_arm = 'holdout') as n_holdout,
        count(*) filter (where assignment_arm in ('treatment', 'holdout')) as n_post
    from {{ ref('fct_tickets') }}

),

checked as (

    select
        observed.n_holdout,
        observed.n_post,
        design.holdout_share,
        (observed.n_holdout - observed.n_post * design.holdout_share)
        / sqrt(observed.n_post * design.holdout_share * (1 - design.holdout_share)) as z
    from observed
    cross join design
    where observed.n_post >= 30 and design.holdout_share > 0 and design.holdout_share < 1

)

select * from checked
where abs(z) >= 3
