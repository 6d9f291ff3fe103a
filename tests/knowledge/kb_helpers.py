"""Shared test data for the knowledge-index tests: the beir_mini fixture and a mart table."""

from __future__ import annotations

from pathlib import Path

import psycopg

from assistant.knowledge.evaluation.beir import BeirSet, load_beir
from assistant.knowledge.index.chunking import KbDocument
from assistant.settings import AssistantSettings

FIXTURE = Path(__file__).with_name("fixtures") / "beir_mini"

MART_DDL = """
create schema if not exists marts;
create table if not exists marts.kb_documents (
    document_id text primary key,
    source text not null,
    title text,
    url text,
    body text,
    category_code text,
    updated_at timestamptz,
    content_hash text,
    is_deleted boolean not null default false
);
"""


def beir_mini() -> BeirSet:
    return load_beir(FIXTURE / "corpus.jsonl", FIXTURE / "queries.jsonl", FIXTURE / "qrels.tsv")


def offline_settings(**overrides: object) -> AssistantSettings:
    """Settings that ignore any .env file: the local embedder unless overridden."""
    return AssistantSettings(_env_file=None, **overrides)  # type: ignore[call-arg]


def write_mart(conn: psycopg.Connection, docs: list[KbDocument]) -> None:
    """Replace marts.kb_documents with `docs` (what dbt would build)."""
    conn.execute(MART_DDL)
    conn.execute("truncate marts.kb_documents")
    with conn.cursor() as cur:
        cur.executemany(
            "insert into marts.kb_documents (document_id, source, title, url, body, "
            "category_code, updated_at, content_hash, is_deleted) "
            "values (%s, %s, %s, %s, %s, %s, now(), md5(%s), %s)",
            [
                (
                    d.document_id,
                    d.source,
                    d.title,
                    d.url,
                    d.body,
                    d.category_code,
                    d.body,
                    d.is_deleted,
                )
                for d in docs
            ],
        )
