-- Signed webhook events the bot could not store as they came (issue #17).
--
-- A signed body that is not a valid Pyrus payload (empty, an array, wrong types, ids that
-- do not fit bigint, nesting past the limit) is answered 4xx and kept here with the
-- reason; one that needed sanitizing (NUL characters, lone surrogates) is stored in the
-- inbox in the sanitized form and also noted here, with the original bytes. Nothing that
-- Pyrus signed is lost silently, and no such event makes Pyrus retry into a 503 loop.
-- `body` is the raw request body with the `access_token` value removed; a redelivery of
-- the same body only bumps `deliveries`.
create table if not exists assistant.dead_letters (
    id bigserial primary key,
    body_sha256 text not null,
    disposition text not null check (disposition in ('rejected', 'sanitized')),
    reason text not null,
    http_status integer not null,
    task_id bigint,
    inbox_id bigint,
    body bytea not null,
    body_bytes integer not null,
    retry_header text,
    deliveries integer not null default 1,
    received_at timestamptz not null default now(),
    last_delivery_at timestamptz not null default now(),
    unique (body_sha256, disposition)
);
create index if not exists dead_letters_received_idx on assistant.dead_letters (received_at);
