-- kb learns from its own history (issue #16): answer labels and tuned retrieval configs.
--
-- kb.answer_labels: one row per (ticket, document, how found) — the documents the staff
-- actually used to resolve a ticket, found nightly by the `label` stage
-- (assistant/knowledge/answer_labels.py owns the table). `method`:
--   confluence_link  a Confluence page linked in a staff reply or note (any link form)
--   ticket_link      a past ticket referenced in a staff reply or note
--   overlap          the knowledge section the resolving reply overlaps most, when the
--                    overlap is clearly above chance
-- `strength` is 1.0 for links and the overlap score for `overlap`. Reruns upsert and
-- keep `labelled_at` when nothing changed, so a rerun on the same day changes nothing.
create table if not exists kb.answer_labels (
    ticket_id bigint not null,
    document_id text not null,
    method text not null check (method in ('confluence_link', 'ticket_link', 'overlap')),
    strength double precision not null,
    chunk_id text,
    evidence text,
    ticket_closed_at timestamptz,
    labelled_at timestamptz not null default now(),
    primary key (ticket_id, document_id, method)
);
create index if not exists answer_labels_document_idx on kb.answer_labels (document_id);

-- One row per label run: the closing-time watermark the next run starts from.
create table if not exists kb.answer_label_runs (
    run_id bigserial primary key,
    ran_at timestamptz not null default now(),
    closed_through timestamptz,
    tickets_examined integer not null,
    tickets_labelled integer not null,
    labels_written integer not null,
    labels_removed integer not null
);

-- kb.retrieval_configs: versioned retrieval configurations fitted by the `tune` stage
-- (assistant/knowledge/tuning.py owns the table). `params` holds only the fitted fields
-- of RetrievalConfig (fusion weights, no-match threshold); `validation` the figures of
-- the candidate and of the configuration in use on the same time-based validation split.
-- At most one row is active; the bot's retriever loads it (none → the shipped defaults).
create table if not exists kb.retrieval_configs (
    version text primary key,
    fitted_on date not null,
    params jsonb not null,
    labels_fit integer not null,
    labels_validate integer not null,
    validation jsonb not null,
    decision text not null,
    is_active boolean not null default false,
    activated_at timestamptz,
    created_at timestamptz not null default now()
);
create unique index if not exists retrieval_configs_one_active
    on kb.retrieval_configs ((true)) where is_active;
