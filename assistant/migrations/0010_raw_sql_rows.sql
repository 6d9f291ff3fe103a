-- Landing for the optional SQL source (flows/sources/sql.py): one row per
-- (source_name, row_key) with the same payload / hash / versions shape as the API
-- sources, so dbt staging reads every raw table the same way.

create table if not exists raw.sql_rows (
    source_name text not null,
    row_key text not null,
    watermark_value text,
    is_deleted boolean not null default false,
    deleted_at timestamptz,
    payload jsonb not null,
    payload_hash text not null,
    _loaded_at timestamptz not null default now(),
    _batch_id uuid not null,
    primary key (source_name, row_key)
);

create table if not exists raw.sql_row_versions (
    source_name text not null,
    row_key text not null,
    payload_hash text not null,
    payload jsonb not null,
    valid_from timestamptz not null,
    valid_to timestamptz,
    _batch_id uuid not null,
    primary key (source_name, row_key, valid_from)
);

-- The loader closes the open version of a changed key: find it without a scan.
create index if not exists pyrus_task_versions_open_idx
    on raw.pyrus_task_versions (task_id) where valid_to is null;
create index if not exists confluence_page_versions_open_idx
    on raw.confluence_page_versions (page_id) where valid_to is null;
create index if not exists sql_row_versions_open_idx
    on raw.sql_row_versions (source_name, row_key) where valid_to is null;
create index if not exists extract_errors_batch_idx on raw.extract_errors (batch_id);
