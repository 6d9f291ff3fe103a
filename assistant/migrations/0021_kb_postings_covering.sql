-- BM25 reads a query term's whole posting list: a covering index lets it do so with an
-- index-only scan (the heap rows of one term are scattered over the table). The flow
-- vacuums kb.chunk_terms after each run so the visibility map allows index-only scans.
create index if not exists chunk_terms_covering
    on kb.chunk_terms (term) include (chunk_id, tf, doc_len);

analyze kb.index_stats;
