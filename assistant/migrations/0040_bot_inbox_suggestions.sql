-- The Pyrus bot's durable inbox and its suggestion log.
--
-- assistant.inbox: one row per distinct webhook event (task, event, last comment);
-- redeliveries and X-Pyrus-Retry attempts hit the unique dedupe_key and only bump
-- `deliveries`. Workers claim rows with SELECT ... FOR UPDATE SKIP LOCKED; a row left
-- in 'processing' past its claim timeout is taken again, so a crash loses nothing.
create table if not exists assistant.inbox (
    id bigserial primary key,
    dedupe_key text not null unique,
    task_id bigint not null,
    event text not null,
    form_id bigint,
    comment_id bigint,
    payload jsonb not null,
    access_token text,
    retry_header text,
    deliveries integer not null default 1,
    status text not null default 'pending'
        check (status in ('pending', 'processing', 'done', 'skipped', 'failed')),
    outcome text,
    attempts integer not null default 0,
    last_error text,
    received_at timestamptz not null default now(),
    last_delivery_at timestamptz not null default now(),
    available_at timestamptz not null default now(),
    claimed_at timestamptz,
    finished_at timestamptz
);
create index if not exists inbox_ready_idx on assistant.inbox (available_at, id)
    where status in ('pending', 'processing');
create index if not exists inbox_task_idx on assistant.inbox (task_id);

-- assistant.suggestions: one row per ticket. The arm is written at decision time,
-- before generation or posting, so a failed post never turns a ticket into "control".
create table if not exists assistant.suggestions (
    task_id bigint primary key,
    arm text not null check (arm in ('treatment', 'holdout')),
    arm_unit double precision not null,
    holdout_share double precision not null,
    decided_at timestamptz not null,
    origin text not null default 'webhook' check (origin in ('webhook', 'replay', 'cli')),
    inbox_id bigint references assistant.inbox (id) on delete set null,
    mode text,
    category_code text,
    category_confidence double precision,
    category_method text,
    taxonomy_version text,
    retrieval jsonb,
    embedder_version text,
    no_good_match boolean,
    model text,
    prompt_version text,
    llm_error text,
    confidence double precision,
    cited_chunk_ids jsonb,
    retrieve_ms integer,
    llm_ms integer,
    post_ms integer,
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
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index if not exists suggestions_decided_idx on assistant.suggestions (decided_at);
