-- Character trigrams (pg_trgm, a standard contrib extension) re-score the hybrid search's
-- candidates: `strict_word_similarity(query, chunk text)` rewards a chunk that contains
-- most of the query's trigrams within a few words, so a misspelt or inflected word still
-- matches (assistant/knowledge/retrieval.py). Computed on the candidates only: no
-- index and no stored vectors.

create extension if not exists pg_trgm;
