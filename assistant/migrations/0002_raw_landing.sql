-- Landing zone written by the extract flows. Each source table keeps the latest
-- payload per key plus a versions table (valid_from / valid_to) so that marts can
-- reconstruct what was known when. payload_hash lets a loader skip unchanged rows.

create table if not exists raw.pyrus_forms (
    form_id bigint primary key,
    payload jsonb not null,
    payload_hash text not null,
    _loaded_at timestamptz not null default now(),
    _batch_id uuid not null
);

create table if not exists raw.pyrus_tasks (
    task_id bigint primary key,
    form_id bigint,
    last_modified_at timestamptz,
    is_deleted boolean not null default false,
    payload jsonb not null,
    payload_hash text not null,
    _source text not null default 'pyrus',
    _loaded_at timestamptz not null default now(),
    _batch_id uuid not null
);
create index if not exists pyrus_tasks_form_idx on raw.pyrus_tasks (form_id);

create table if not exists raw.pyrus_task_versions (
    task_id bigint not null,
    payload_hash text not null,
    payload jsonb not null,
    valid_from timestamptz not null,
    valid_to timestamptz,
    _batch_id uuid not null,
    primary key (task_id, valid_from)
);

create table if not exists raw.confluence_pages (
    page_id text primary key,
    space_key text not null,
    title text,
    version_number integer,
    last_modified_at timestamptz,
    is_deleted boolean not null default false,
    deleted_at timestamptz,
    payload jsonb not null,
    payload_hash text not null,
    _loaded_at timestamptz not null default now(),
    _batch_id uuid not null
);

create table if not exists raw.confluence_page_versions (
    page_id text not null,
    payload_hash text not null,
    payload jsonb not null,
    valid_from timestamptz not null,
    valid_to timestamptz,
    _batch_id uuid not null,
    primary key (page_id, valid_from)
);

-- Watermarks: advanced only after the load that read up to them has committed.
create table if not exists raw.sync_state (
    source text not null,
    scope text not null,
    watermark timestamptz,
    state jsonb not null default '{}'::jsonb,
    updated_at timestamptz not null default now(),
    primary key (source, scope)
);

create table if not exists raw.extract_runs (
    batch_id uuid primary key,
    source text not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    status text not null default 'running',
    stats jsonb not null default '{}'::jsonb,
    error text
);

create table if not exists raw.extract_errors (
    id bigserial primary key,
    batch_id uuid not null,
    source text not null,
    object_id text,
    error text not null,
    occurred_at timestamptz not null default now()
);
