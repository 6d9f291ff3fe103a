"""The knowledge index in Postgres: the only module with vector / full-text / BM25 SQL.

Tables (migration 0020): `kb.chunks` (text, exact tokens, generated Russian tsvector,
untyped `vector` + `embedder` = "name@version"), `kb.chunk_terms` (BM25 postings),
`kb.index_stats` (corpus size and mean length), `kb.embedder_models` (fitted local
models and registered remote ones, one active); migration 0022 adds `kb.term_df`
(document frequency per term) and the impact-ordered postings index BM25 prunes with.

A store is bound to a schema. The evaluation builds a scratch schema with
`KnowledgeStore.create_scratch`, a copy of the `kb` tables (`like ... including all`),
so it never touches the real index. Schema and index names are composed with
`psycopg.sql.Identifier`; every value is a bound parameter.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from assistant.errors import KbError
from assistant.knowledge.embedders.base import EmbedderRecord
from assistant.knowledge.index.chunking import Chunk, KbDocument
from assistant.knowledge.text import exact_tokens, terms

logger = logging.getLogger(__name__)

TABLES = ("chunks", "chunk_terms", "index_stats", "embedder_models", "term_df")
BM25_K1 = 1.2
BM25_B = 0.75
EXACT_SCAN_LIMIT = 2000
# Unfiltered BM25 reads at most this many postings per query term, the highest-impact
# ones (index `chunk_terms_impact`, migration 0022), and then scores the best partial
# candidates exactly over all their postings. Lists this short are read whole, so on a
# small corpus (the sample evaluation set) the result is exact.
BM25_TERM_CAP = 2000
BM25_RESCORE_MIN = 200
# Must match the expression of the index `chunk_terms_impact` (migration 0022) verbatim.
_IMPACT = (
    "(t.tf::float8 / (t.tf::float8 + 0.3::float8 + 0.9::float8 * t.doc_len::float8 / 50::float8))"
)


class IndexStoreError(KbError):
    """The index cannot be read or written (missing table, bad input)."""


@dataclass(frozen=True)
class ChunkState:
    content_hash: str
    meta_hash: str
    embedder: str | None


def meta_hash(chunk: Chunk) -> str:
    """Hash of what may change without changing the embedded text."""
    parts = [chunk.source, chunk.title, chunk.url, chunk.category_code or "", chunk.section]
    parts.append(str(chunk.ordinal))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class KnowledgeStore:
    """Reads and writes one schema's index tables over a psycopg connection."""

    def __init__(self, conn: psycopg.Connection, schema: str = "kb") -> None:
        self.conn = conn
        self.schema = schema
        from pgvector.psycopg import register_vector

        register_vector(conn)

    def _sql(self, template: str, **parts: sql.Composable) -> sql.Composed:
        return sql.SQL(template).format(s=sql.Identifier(self.schema), **parts)

    # -- scratch schemas --------------------------------------------------------------
    @classmethod
    def create_scratch(cls, conn: psycopg.Connection, schema: str) -> KnowledgeStore:
        """A fresh schema with empty copies of the kb tables (for evaluation)."""
        if schema == "kb":
            raise IndexStoreError("refusing to use the real `kb` schema as a scratch schema")
        ident = sql.Identifier(schema)
        with conn.transaction():
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(ident))
            conn.execute(sql.SQL("create schema {}").format(ident))
            for table in TABLES:
                conn.execute(
                    sql.SQL("create table {}.{} (like kb.{} including all)").format(
                        ident, sql.Identifier(table), sql.Identifier(table)
                    )
                )
            conn.execute(sql.SQL("insert into {}.index_stats (id) values (true)").format(ident))
        return cls(conn, schema)

    def drop(self) -> None:
        """Drop a scratch schema (never `kb`)."""
        if self.schema == "kb":
            raise IndexStoreError("refusing to drop the real `kb` schema")
        with self.conn.transaction():
            self.conn.execute(self._sql("drop schema if exists {s} cascade"))

    # -- input --------------------------------------------------------------------------
    def load_documents(self, table: str = "marts.kb_documents") -> list[KbDocument]:
        """All rows of the dbt mart (deleted ones included, flagged)."""
        schema_name, _, table_name = table.partition(".")
        query = sql.SQL(
            "select document_id, source, title, url, body, category_code, updated_at, "
            "content_hash, is_deleted from {}.{} order by document_id"
        ).format(sql.Identifier(schema_name), sql.Identifier(table_name))
        try:
            with self.conn.transaction():
                rows = self.conn.execute(query).fetchall()
        except psycopg.errors.UndefinedTable as exc:
            raise IndexStoreError(
                f"table {table} does not exist; run `kb refresh --only transform` (dbt) first"
            ) from exc
        return [
            KbDocument(
                document_id=row[0],
                source=row[1],
                title=row[2] or "",
                url=row[3] or "",
                body=row[4] or "",
                category_code=row[5],
                updated_at=row[6],
                content_hash=row[7],
                is_deleted=bool(row[8]),
            )
            for row in rows
        ]

    # -- chunks -------------------------------------------------------------------------
    def chunk_states(self) -> dict[str, ChunkState]:
        rows = self.conn.execute(
            self._sql("select chunk_id, content_hash, meta_hash, embedder from {s}.chunks")
        ).fetchall()
        return {row[0]: ChunkState(row[1], row[2], row[3]) for row in rows}

    def write_chunks(
        self,
        chunks: Sequence[Chunk],
        embeddings: np.ndarray | None,
        embedder_key: str | None,
    ) -> None:
        """Upsert chunks; with `embeddings=None` only metadata changes (vectors kept).

        Postings are rebuilt for every written chunk. Call inside a transaction.
        """
        if not chunks:
            return
        upsert = self._sql(
            "insert into {s}.chunks (chunk_id, document_id, ordinal, source, title, url, "
            "category_code, section, text, content_hash, meta_hash, exact_tokens, n_terms, "
            "embedder, embedding, updated_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "%s, %s, %s, %s, %s, now()) on conflict (chunk_id) do update set "
            "document_id = excluded.document_id, ordinal = excluded.ordinal, "
            "source = excluded.source, title = excluded.title, url = excluded.url, "
            "category_code = excluded.category_code, section = excluded.section, "
            "text = excluded.text, content_hash = excluded.content_hash, "
            "meta_hash = excluded.meta_hash, exact_tokens = excluded.exact_tokens, "
            "n_terms = excluded.n_terms, "
            "embedder = coalesce(excluded.embedder, {s}.chunks.embedder), "
            "embedding = coalesce(excluded.embedding, {s}.chunks.embedding), updated_at = now()"
        )
        rows = []
        postings = []
        for index, chunk in enumerate(chunks):
            counts = Counter(terms(chunk.text))
            length = sum(counts.values())
            vector = embeddings[index] if embeddings is not None else None
            rows.append(
                (
                    chunk.chunk_id,
                    chunk.document_id,
                    chunk.ordinal,
                    chunk.source,
                    chunk.title,
                    chunk.url,
                    chunk.category_code,
                    chunk.section,
                    chunk.text,
                    chunk.content_hash,
                    meta_hash(chunk),
                    exact_tokens(chunk.text),
                    length,
                    embedder_key if vector is not None else None,
                    vector,
                )
            )
            postings.extend((term, chunk.chunk_id, tf, length) for term, tf in counts.items())
        ids = [chunk.chunk_id for chunk in chunks]
        with self.conn.cursor() as cur:
            cur.executemany(upsert, rows)
            cur.execute(self._sql("delete from {s}.chunk_terms where chunk_id = any(%s)"), (ids,))
            with cur.copy(
                self._sql("copy {s}.chunk_terms (term, chunk_id, tf, doc_len) from stdin")
            ) as copy:
                for posting in postings:
                    copy.write_row(posting)

    def delete_chunks(self, chunk_ids: Iterable[str]) -> int:
        ids = list(chunk_ids)
        if not ids:
            return 0
        self.conn.execute(self._sql("delete from {s}.chunk_terms where chunk_id = any(%s)"), (ids,))
        cur = self.conn.execute(
            self._sql("delete from {s}.chunks where chunk_id = any(%s)"), (ids,)
        )
        return cur.rowcount

    def refresh_stats(self) -> None:
        """Corpus size, mean length and per-term document frequencies for BM25."""
        self.conn.execute(self._sql("delete from {s}.term_df"))
        self.conn.execute(
            self._sql(
                "insert into {s}.term_df (term, df) "
                "select term, count(*) from {s}.chunk_terms group by term"
            )
        )
        self.conn.execute(
            self._sql(
                "update {s}.index_stats set n_chunks = agg.n, avg_len = agg.avg_len, "
                "refreshed_at = now() from (select count(*) as n, "
                "coalesce(avg(n_terms), 0) as avg_len from {s}.chunks) as agg"
            )
        )

    def vacuum(self) -> None:
        """VACUUM ANALYZE the index tables (needs an autocommit connection).

        Keeps the visibility map fresh so BM25 reads postings with index-only scans,
        and the planner's row estimates right after a large load.
        """
        if not self.conn.autocommit:
            raise IndexStoreError("vacuum needs an autocommit connection")
        for table in ("chunk_terms", "chunks", "index_stats", "term_df"):
            self.conn.execute(self._sql("vacuum (analyze) {s}.{t}", t=sql.Identifier(table)))

    def chunk_texts(self) -> list[tuple[str, str]]:
        """(content_hash, text) of every chunk, for fitting the local embedder."""
        return self.conn.execute(
            self._sql("select content_hash, text from {s}.chunks order by chunk_id")
        ).fetchall()

    def chunk_owners(self) -> dict[str, str]:
        """chunk_id → document_id for the whole index (evaluation)."""
        rows = self.conn.execute(self._sql("select chunk_id, document_id from {s}.chunks"))
        return {row[0]: row[1] for row in rows}

    def count_chunks(self) -> int:
        row = self.conn.execute(self._sql("select count(*) from {s}.chunks")).fetchone()
        return int(row[0]) if row else 0

    def fetch(self, chunk_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = self.conn.execute(
            self._sql(
                "select chunk_id, document_id, source, title, url, category_code, section, text "
                "from {s}.chunks where chunk_id = any(%s)"
            ),
            (list(chunk_ids),),
        ).fetchall()
        names = ("chunk_id", "document_id", "source", "title", "url", "category_code")
        return {row[0]: dict(zip((*names, "section", "text"), row, strict=True)) for row in rows}

    def document_sections(self, document_id: str) -> list[tuple[str, str]]:
        """(section, text) of every chunk of one document, in page order."""
        rows = self.conn.execute(
            self._sql(
                "select section, text from {s}.chunks where document_id = %s order by ordinal"
            ),
            (document_id,),
        ).fetchall()
        return [(str(row[0] or ""), str(row[1] or "")) for row in rows]

    # -- embedders ------------------------------------------------------------------------
    def save_embedder(self, record: EmbedderRecord) -> None:
        from psycopg.types.json import Jsonb

        self.conn.execute(
            self._sql(
                "insert into {s}.embedder_models (name, version, kind, dim, params, artifact) "
                "values (%s, %s, %s, %s, %s, %s) on conflict (name, version) do nothing"
            ),
            (
                record.name,
                record.version,
                record.kind,
                record.dim,
                Jsonb(record.params),
                record.artifact,
            ),
        )

    def has_embedder(self, name: str, version: str) -> bool:
        row = self.conn.execute(
            self._sql(
                "select exists (select 1 from {s}.embedder_models where name = %s and version = %s)"
            ),
            (name, version),
        ).fetchone()
        return bool(row and row[0])

    def active_embedder_key(self) -> str | None:
        """`name@version` of the active embedder without reading its (large) artifact."""
        row = self.conn.execute(
            self._sql(
                "select name || '@' || version from {s}.embedder_models where is_active "
                "order by created_at desc limit 1"
            )
        ).fetchone()
        return str(row[0]) if row else None

    def activate_embedder(self, name: str, version: str) -> None:
        """Make one embedder active (call inside the transaction that wrote its vectors)."""
        self.conn.execute(
            self._sql("update {s}.embedder_models set is_active = false where is_active")
        )
        self.conn.execute(
            self._sql(
                "update {s}.embedder_models set is_active = true where name = %s and version = %s"
            ),
            (name, version),
        )

    def get_embedder(
        self, name: str | None = None, version: str | None = None, *, active: bool = False
    ) -> EmbedderRecord | None:
        """The active embedder, or the latest version of `name` (or exactly `version`)."""
        query = self._sql(
            "select name, version, kind, dim, params, artifact from {s}.embedder_models "
            "where (not %(active)s or is_active) and (%(name)s::text is null or name = %(name)s) "
            "and (%(version)s::text is null or version = %(version)s) "
            "order by created_at desc limit 1"
        )
        row = self.conn.execute(
            query, {"active": active, "name": name, "version": version}
        ).fetchone()
        if row is None:
            return None
        artifact = bytes(row[5]) if row[5] is not None else None
        return EmbedderRecord(row[0], row[1], row[2], row[3], dict(row[4]), artifact)

    def ensure_vector_index(self, embedder_key: str, dim: int) -> None:
        """A partial HNSW (cosine) index over one embedder's vectors."""
        digest = hashlib.sha1(f"{self.schema}.{embedder_key}".encode()).hexdigest()[:12]
        self.conn.execute(
            self._sql(
                "create index if not exists {name} on {s}.chunks using hnsw "
                "((embedding::vector({dim})) vector_cosine_ops) where embedder = {key}",
                name=sql.Identifier(f"chunks_hnsw_{digest}"),
                dim=sql.Literal(int(dim)),
                key=sql.Literal(embedder_key),
            )
        )

    # -- search legs --------------------------------------------------------------------
    def _filters(self, alias: str, source: str | None, category: str | None) -> sql.Composable:
        parts = []
        if source is not None:
            parts.append(sql.SQL(" and {}.source = %(source)s").format(sql.Identifier(alias)))
        if category is not None:
            parts.append(
                sql.SQL(" and {}.category_code = %(category)s").format(sql.Identifier(alias))
            )
        return sql.Composed(parts)

    def vector_search(
        self,
        embedder_key: str,
        dim: int,
        vector: np.ndarray,
        *,
        limit: int,
        source: str | None = None,
        category: str | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) of the nearest chunks in one embedder's space.

        Sent unprepared so that Postgres plans it with the real `embedder` value and can
        match the partial HNSW index of that embedder.
        """
        query = self._vector_query(dim, source, category)
        params = {
            "v": np.asarray(vector, dtype=np.float32),
            "e": embedder_key,
            "k": limit,
            "source": source,
            "category": category,
        }
        rows = self.conn.execute(query, params, prepare=False).fetchall()
        return [(row[0], float(row[1])) for row in rows]

    def _vector_query(self, dim: int, source: str | None, category: str | None) -> sql.Composed:
        return self._sql(
            "select c.chunk_id, 1 - ((c.embedding::vector({dim})) <=> %(v)s::vector({dim})) "
            "from {s}.chunks c where c.embedder = %(e)s{filters} "
            "order by (c.embedding::vector({dim})) <=> %(v)s::vector({dim}) limit %(k)s",
            dim=sql.Literal(int(dim)),
            filters=self._filters("c", source, category),
        )

    def vector_plan(self, embedder_key: str, dim: int, vector: np.ndarray, limit: int = 10) -> str:
        """EXPLAIN of the kNN query (diagnostics: is the embedder's HNSW index used?)."""
        query = sql.SQL("explain ") + self._vector_query(dim, None, None)
        params = {"v": np.asarray(vector, dtype=np.float32), "e": embedder_key, "k": limit}
        rows = self.conn.execute(query, params, prepare=False).fetchall()
        return "\n".join(row[0] for row in rows)

    def bm25_search(
        self,
        query_terms: Sequence[str],
        *,
        limit: int,
        source: str | None = None,
        category: str | None = None,
        max_df_ratio: float = 1.0,
    ) -> list[tuple[str, float, float]]:
        """(chunk_id, BM25 score, coverage) — Okapi BM25 over the postings, in one statement.

        coverage = score / ((k1 + 1) * sum of the query terms' idf, unseen terms at the
        maximum idf): how much of the query's weight the chunk matches, in [0, 1); used
        for calibrated fusion and the "no good match" decision.
        """
        unique_terms = sorted(set(query_terms))
        if not unique_terms:
            return []
        filtered = source is not None or category is not None
        head = self._sql(
            # Corpus statistics come from one-row scalar subqueries (not a joined CTE).
            # Document frequencies come from `term_df` (refreshed with the statistics);
            # a term written since then is counted live.
            "with st as materialized (select greatest(n_chunks, 1)::float8 as n, "
            "greatest(avg_len, 1)::float8 as avgdl from {s}.index_stats limit 1), "
            "d as materialized (select q.term, coalesce(f.df, (select count(*) from "
            "{s}.chunk_terms c where c.term = q.term))::float8 as df "
            "from unnest(%(terms)s::text[]) as q(term) "
            "left join {s}.term_df f on f.term = q.term), "
            "w as materialized (select term, df, "
            "ln(1 + ((select n from st) - df + 0.5) / (df + 0.5)) as idf from d where df > 0), "
            # Terms in more than `max_df_ratio` of the chunks (low idf, the longest posting
            # lists) are left out of the scan unless nothing else is left to match.
            "scan as materialized (select case when exists (select 1 from w where "
            "df <= %(max_df)s * (select n from st)) then array(select term from w where "
            "df <= %(max_df)s * (select n from st)) else %(terms)s::text[] end as terms) "
        )
        weight = sql.SQL(
            "w.idf * t.tf * (%(k1)s + 1) / (t.tf + %(k1)s * "
            "(1 - %(b)s + %(b)s * t.doc_len / (select avgdl from st)))"
        )
        tail = sql.SQL(
            "select t.chunk_id, sum({weight}) as score, "
            "(select coalesce(sum(idf), 0) from w), (select count(*) from w), "
            "(select n from st) "
        ).format(weight=weight)
        if filtered:
            # A filter may exclude every top-impact posting: read the whole lists.
            body = self._sql(
                "{tail}"
                "from {s}.chunk_terms t join w on w.term = t.term "
                "join {s}.chunks c on c.chunk_id = t.chunk_id "
                "where t.term = any((select terms from scan)::text[]){filters} "
                "group by t.chunk_id order by score desc, t.chunk_id limit %(k)s",
                tail=tail,
                filters=self._filters("c", source, category),
            )
        else:
            # MaxScore-like pruning: the top `cap` postings of each term by impact give
            # the candidates; the best `pool` of them are scored exactly.
            body = self._sql(
                ", cand as materialized (select t.chunk_id, sum({weight}) as partial "
                "from unnest((select terms from scan)::text[]) as q(term) "
                "cross join lateral (select t.chunk_id, t.term, t.tf, t.doc_len "
                "from {s}.chunk_terms t where t.term = q.term "
                "order by {impact} desc limit %(cap)s) as t "
                "join w on w.term = t.term "
                "group by t.chunk_id order by partial desc, t.chunk_id limit %(pool)s) "
                "{tail}"
                "from cand cross join lateral (select t.chunk_id, t.term, t.tf, t.doc_len "
                "from {s}.chunk_terms t where t.chunk_id = cand.chunk_id "
                "and t.term = any((select terms from scan)::text[]) offset 0) as t "
                "join w on w.term = t.term "
                "group by t.chunk_id order by score desc, t.chunk_id limit %(k)s",
                weight=weight,
                impact=sql.SQL(_IMPACT),
                tail=tail,
            )
        query = head + body
        params = {
            "terms": unique_terms,
            "max_df": max_df_ratio,
            "k1": BM25_K1,
            "b": BM25_B,
            "k": limit,
            "cap": BM25_TERM_CAP,
            "pool": max(BM25_RESCORE_MIN, 4 * limit),
            "source": source,
            "category": category,
        }
        rows = self.conn.execute(query, params).fetchall()
        result = []
        for chunk_id, score, idf_sum, found, n_chunks in rows:
            # A query word the corpus has never seen counts with the highest idf: a query
            # of mostly unknown words (off-topic) cannot reach a high coverage.
            unseen_idf = math.log(1 + (float(n_chunks) + 0.5) / 0.5)
            bound = (BM25_K1 + 1) * (float(idf_sum) + (len(unique_terms) - found) * unseen_idf)
            result.append((chunk_id, float(score), float(score) / bound if bound else 0.0))
        return result

    def exact_search(
        self,
        tokens: Sequence[str],
        *,
        limit: int,
        source: str | None = None,
        category: str | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk_id, share of the query's exact tokens the chunk contains)."""
        if not tokens:
            return []
        query = self._sql(
            # A token shared by thousands of chunks tells nothing: only the first
            # EXACT_SCAN_LIMIT matches are scored, which keeps this leg ~1 ms.
            "select c.chunk_id, cardinality(array(select unnest(c.exact_tokens) "
            "intersect select unnest(%(t)s::text[])))::float8 / %(n)s as share "
            "from (select c.chunk_id, c.exact_tokens from {s}.chunks c "
            "where c.exact_tokens && %(t)s::text[]{filters} limit %(scan)s) as c "
            "order by share desc, c.chunk_id limit %(k)s",
            filters=self._filters("c", source, category),
        )
        params = {
            "t": list(tokens),
            "n": float(len(tokens)),
            "scan": EXACT_SCAN_LIMIT,
            "k": limit,
            "source": source,
            "category": category,
        }
        return [(row[0], float(row[1])) for row in self.conn.execute(query, params)]

    def trigram_scores(self, query: str, chunk_ids: Sequence[str]) -> list[tuple[str, float]]:
        """(chunk_id, pg_trgm strict word similarity of the query to the chunk) for candidates.

        How much of the query's character trigrams one stretch of whole words of the chunk
        holds (0..1): typos and other word forms keep most of their trigrams, where a
        stemmed BM25 term is simply missed. Cost grows with the candidates, not the index.
        """
        if not chunk_ids or not query.strip():
            return []
        rows = self.conn.execute(
            self._sql(
                "select chunk_id, strict_word_similarity(%(q)s, text)::float8 "
                "from {s}.chunks where chunk_id = any(%(ids)s)"
            ),
            {"q": query, "ids": list(chunk_ids)},
        )
        return [(row[0], float(row[1])) for row in rows]

    def tsrank_search(
        self,
        text: str,
        *,
        limit: int,
        source: str | None = None,
        category: str | None = None,
    ) -> list[tuple[str, float]]:
        """Baseline: Postgres FTS, words OR-ed, ranked by ts_rank_cd (for evaluation only)."""
        words = sorted(set(terms(text)))
        if not words:
            return []
        query = self._sql(
            "with q as (select to_tsquery('russian', %(q)s) as q) "
            "select c.chunk_id, ts_rank_cd(c.tsv, q.q) as rank from {s}.chunks c cross join q "
            "where c.tsv @@ q.q{filters} order by rank desc, c.chunk_id limit %(k)s",
            filters=self._filters("c", source, category),
        )
        or_query = " | ".join(f"'{word}'" for word in words if "'" not in word)
        params = {"q": or_query, "k": limit, "source": source, "category": category}
        return [(row[0], float(row[1])) for row in self.conn.execute(query, params)]
