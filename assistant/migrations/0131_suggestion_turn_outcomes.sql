-- Outcomes of conversation turns (docs/conversation.md), written by the daily `score`
-- stage like assistant.suggestion_outcomes (migration 0050) is for first suggestions:
-- the similarity of a follow-up's draft to the staff's next public reply after the
-- message it answered, and the usage class with the thresholds calibrated on the holdout
-- first suggestions. Re-scoring overwrites (upsert on turn_id).
create table if not exists assistant.suggestion_turn_outcomes (
    turn_id bigint primary key references assistant.suggestion_turns (id) on delete cascade,
    task_id bigint not null,
    kind text not null,
    arm text not null,
    reply_comment_id bigint,
    replied boolean not null,
    exposed boolean not null,
    sim_char double precision,
    draft_retention double precision,
    usage_class text not null check (
        usage_class in ('accepted', 'edited', 'ignored', 'no_reply_yet', 'not_exposed', 'shadow')
    ),
    chance_class text,
    scored_at timestamptz not null default now()
);
