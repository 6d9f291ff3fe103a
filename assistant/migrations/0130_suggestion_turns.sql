-- Conversation turns (docs/conversation.md): the bot's suggestions for a ticket's later
-- messages, one row per triggering comment, so nothing is overwritten.
--
-- assistant.suggestions stays the ticket's row: the arm (decided once per ticket at its
-- first event; the holdout arm is per ticket) and the `first` suggestion. Every row there
-- is kept as it was: it is the `first` turn of its ticket (see the view below).
-- assistant.suggestion_turns holds the `follow_up` (a customer's new message) and
-- `question` (an engineer's question addressed to the bot) turns. The unique key
-- (task_id, trigger_comment_id) is what makes "at most one bot comment per customer
-- message" hold across redeliveries and concurrent jobs: the first job to insert the row
-- owns the turn (inbox_id), any other job for the same comment stops there.
create table if not exists assistant.suggestion_turns (
    id bigserial primary key,
    task_id bigint not null references assistant.suggestions (task_id) on delete cascade,
    trigger_comment_id bigint not null,
    kind text not null check (kind in ('follow_up', 'question')),
    inbox_id bigint references assistant.inbox (id) on delete set null,
    decided_at timestamptz not null default now(),
    trigger_text text,
    mode text,
    category_code text,
    category_confidence double precision,
    retrieval jsonb,
    embedder_version text,
    no_good_match boolean,
    model text,
    prompt_version text,
    llm_error text,
    confidence double precision,
    cited_chunk_ids jsonb,
    cited_document_ids jsonb,
    repeated_steps integer not null default 0,
    retrieve_ms integer,
    llm_ms integer,
    prompt_tokens integer,
    completion_tokens integer,
    recommendation text,
    draft_reply text,
    comment_text text,
    comment_html text,
    generated_at timestamptz,
    post_attempts integer not null default 0,
    post_error text,
    posted_at timestamptz,
    comment_id bigint,
    reply_note_id bigint,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (task_id, trigger_comment_id)
);
create index if not exists suggestion_turns_decided_idx
    on assistant.suggestion_turns (decided_at);

-- Every suggestion per triggering message: the ticket's first (its trigger is the comment
-- of the event that decided it, null for a replayed ticket) and its later turns.
create or replace view assistant.suggestion_messages as
select
    s.task_id,
    i.comment_id as trigger_comment_id,
    'first'::text as kind,
    s.arm,
    s.inbox_id,
    s.decided_at,
    s.mode,
    s.recommendation,
    s.draft_reply,
    s.generated_at,
    s.posted_at,
    s.comment_id
from assistant.suggestions as s
left join assistant.inbox as i on s.inbox_id = i.id
union all
select
    t.task_id,
    t.trigger_comment_id,
    t.kind,
    s.arm,
    t.inbox_id,
    t.decided_at,
    t.mode,
    t.recommendation,
    t.draft_reply,
    t.generated_at,
    t.posted_at,
    t.comment_id
from assistant.suggestion_turns as t
inner join assistant.suggestions as s on t.task_id = s.task_id;
