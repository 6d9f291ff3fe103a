-- BM25 at 100k chunks: common stems have posting lists of tens of thousands of chunks.
--
-- * `term_df`: document frequency per term, rebuilt by `KnowledgeStore.refresh_stats`
--   with the other corpus statistics, so a query no longer counts whole posting lists
--   (terms written since the last refresh fall back to a live count).
-- * `chunk_terms_impact`: postings of a term ordered by their BM25 term-frequency
--   component (length-normalised with a fixed mean length of 50; the order only picks
--   candidates, scores are exact). A query reads only the top postings of each term
--   with an index-only scan. It replaces the plain covering index of 0021.
create table if not exists kb.term_df (
    term text primary key,
    df integer not null check (df > 0)
);

create index if not exists chunk_terms_impact
    on kb.chunk_terms (
        term,
        (tf::float8 / (tf::float8 + 0.3::float8 + 0.9::float8 * doc_len::float8 / 50::float8))
        desc
    ) include (chunk_id, tf, doc_len);

drop index if exists kb.chunk_terms_covering;
