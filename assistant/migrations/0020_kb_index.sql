-- The knowledge index: chunks with embeddings, Russian FTS, exact tokens and BM25 postings.
--
-- `embedding` is an untyped `vector`: the dimension depends on the embedder (local
-- TF-IDF+SVD, or any OpenAI-compatible model). Vectors of one embedder live side by side
-- with another's only while re-embedding; every query filters on `embedder`
-- ("name@version") so spaces never mix. The HNSW index is per embedder: a partial
-- expression index `((embedding::vector(dim)) vector_cosine_ops) where embedder = ...`,
-- created by `assistant.store` when an embedder becomes active.

create table if not exists kb.embedder_models (
    name text not null,
    version text not null,
    kind text not null check (kind in ('local', 'openai')),
    dim integer not null check (dim > 0),
    params jsonb not null default '{}'::jsonb,
    artifact bytea,
    is_active boolean not null default false,
    created_at timestamptz not null default now(),
    primary key (name, version)
);

create unique index if not exists embedder_models_one_active
    on kb.embedder_models ((true)) where is_active;

create table if not exists kb.chunks (
    chunk_id text primary key,
    document_id text not null,
    ordinal integer not null,
    source text not null,
    title text not null,
    url text not null default '',
    category_code text,
    section text not null default '',
    text text not null,
    content_hash text not null,
    meta_hash text not null,
    exact_tokens text [] not null default '{}',
    n_terms integer not null default 0,
    embedder text,
    embedding vector,
    tsv tsvector generated always as (
        setweight(to_tsvector('russian', coalesce(title, '')), 'A')
        || to_tsvector('russian', coalesce(text, ''))
    ) stored,
    updated_at timestamptz not null default now()
);

create index if not exists chunks_document_id on kb.chunks (document_id);
create index if not exists chunks_embedder on kb.chunks (embedder);
create index if not exists chunks_tsv on kb.chunks using gin (tsv);
create index if not exists chunks_exact_tokens on kb.chunks using gin (exact_tokens);

-- BM25 postings: one row per (stemmed term, chunk) with the term frequency. The
-- chunk length is repeated here so that scoring needs no join to kb.chunks.
create table if not exists kb.chunk_terms (
    term text not null,
    chunk_id text not null,
    tf integer not null check (tf > 0),
    doc_len integer not null,
    primary key (term, chunk_id)
);

create index if not exists chunk_terms_chunk_id on kb.chunk_terms (chunk_id);

-- Corpus statistics for BM25 (one row), refreshed after each indexing run.
create table if not exists kb.index_stats (
    id boolean primary key default true check (id),
    n_chunks integer not null default 0,
    avg_len double precision not null default 0,
    refreshed_at timestamptz not null default now()
);

insert into kb.index_stats (id) values (true) on conflict do nothing;
