-- Keep each chunk's vector in the table row instead of out of line (pgvector's default
-- storage for `vector` is EXTERNAL). Below several thousand chunks Postgres answers a kNN
-- query with a sequential scan, and reading every row's out-of-line vector made that scan
-- 15-30 ms on the demo index; inline it takes about 5 ms (EXPLAIN ANALYZE). The chunk text
-- and tsvector still move out of line, so a row stays under the 2 kB TOAST threshold.
-- New and re-embedded rows are stored inline; `VACUUM FULL kb.chunks` moves the rest.

alter table kb.chunks alter column embedding set storage main;
