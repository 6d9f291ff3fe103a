-- Effect measurement (effect-measurement.md §2.4, §3.2): two Python-written tables that
-- dbt reads as sources.
--
-- assistant.suggestion_outcomes: one row per suggestion (= ticket), written by the daily
-- `score` stage: how similar the draft was to the staff's first public reply and the
-- resulting usage class. Re-scoring overwrites (upsert on task_id).
create table if not exists assistant.suggestion_outcomes (
    task_id bigint primary key,
    arm text not null,
    draft_source text not null check (draft_source in ('posted_comment', 'suggestion_log')),
    reply_comment_id bigint,
    replied boolean not null,
    exposed boolean not null,
    sim_char double precision,
    draft_retention double precision,
    usage_class text not null check (
        usage_class in ('accepted', 'edited', 'ignored', 'no_reply_yet', 'not_exposed', 'shadow')
    ),
    chance_class text,
    cited_sources integer not null default 0,
    cited_sources_used integer,
    feedback text,
    accepted_threshold double precision not null,
    edited_threshold double precision not null,
    calibration_pairs integer not null,
    scored_at timestamptz not null default now()
);

-- kb.effect_estimates: the current effect table, replaced as a whole by the `effect`
-- stage (one run = one consistent set of estimates; `run_id` says which).
create table if not exists kb.effect_estimates (
    metric text not null,
    segment text not null,
    comparison text not null,
    method text not null,
    n_control integer not null,
    n_treated integer not null,
    control_value double precision,
    treated_value double precision,
    rel_change double precision,
    ci95_low double precision,
    ci95_high double precision,
    mde_80 double precision,
    is_powered boolean,
    category_standardised boolean not null default false,
    extra jsonb not null default '{}'::jsonb,
    run_id uuid not null,
    estimated_at timestamptz not null default now(),
    primary key (metric, segment, comparison, method)
);
