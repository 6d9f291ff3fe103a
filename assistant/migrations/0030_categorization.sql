-- Ticket categorization (issue 7): the frozen taxonomy versions seen so far, the
-- persisted classifier models (one active), and one category per ticket per
-- (taxonomy version, model version) so that every period is compared with one model.

create table if not exists kb.taxonomy_versions (
    taxonomy_version text primary key,
    content_hash text not null,
    category_codes text[] not null,
    registered_at timestamptz not null default now()
);

create table if not exists kb.classifier_models (
    model_version text primary key,
    taxonomy_version text not null,
    trained_at timestamptz not null default now(),
    training_data_hash text not null,
    n_train integer not null,
    labels_through timestamptz,
    params jsonb not null,
    metrics jsonb not null,
    model bytea not null,
    is_active boolean not null default false
);
-- At most one active model at a time.
create unique index if not exists classifier_models_one_active_idx
    on kb.classifier_models (is_active) where is_active;

create table if not exists kb.ticket_categories (
    ticket_id bigint not null,
    taxonomy_version text not null,
    model_version text not null,
    category_code text not null,
    confidence real not null check (confidence >= 0 and confidence <= 1),
    method text not null,
    low_confidence boolean not null default false,
    categorized_at timestamptz not null default now(),
    primary key (ticket_id, taxonomy_version, model_version)
);
create index if not exists ticket_categories_version_idx
    on kb.ticket_categories (taxonomy_version, model_version);
