-- Query vectors per (embedder key, hash of the embedded text): a ticket is embedded once
-- when the bot (or replay) first searches it, and the nightly `tune` stage, which
-- re-searches up to 3000 labelled tickets, reads the vectors back instead of running the
-- model again (assistant/knowledge/query_vectors.py). No ticket text is stored here.

create table if not exists kb.query_vectors (
    embedder text not null,
    text_hash text not null,
    embedding vector not null,
    created_at timestamptz not null default now(),
    primary key (embedder, text_hash)
);

create index if not exists query_vectors_created_at on kb.query_vectors (created_at);
