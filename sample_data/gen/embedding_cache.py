"""Write the sample chunks' e5 embeddings to `sample_data/embeddings/embedding_cache.npz`.

Why: the e5 embedder costs ~0.1–1 s per chunk on a busy 2-core machine; thousands of
sample chunks would push `kb demo` and `kb eval retrieval` on the sample set far past
their time budget. The indexer uses a cached vector only when the embedder key
(package version + model variant) and the chunk's content hash both match, so the cache
can never put a stale vector into an index. Queries and new tickets are always embedded
live.

Usage (resumable: hashes already in the file are skipped, progress is saved every batch)::

    python -m sample_data.gen.embedding_cache                       # eval corpus chunks
    python -m sample_data.gen.embedding_cache --from-index   # + chunks of the local kb index

The second form adds the chunks of the index built from the sample history by
`KB_EMBEDDER=tfidf kb demo` (its dbt-built documents differ from the eval corpus);
`--database-url URL` reads another database instead of the embedded one.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from assistant.knowledge.embedders.e5 import E5Embedder
from assistant.knowledge.evaluation.beir import load_beir
from assistant.knowledge.index.embedding_cache import EmbeddingCache, load_cache
from assistant.knowledge.index.indexing import chunk_documents

logger = logging.getLogger(__name__)

DATASET = Path(__file__).resolve().parents[1] / "dataset"
CACHE_PATH = DATASET.parent / "embeddings" / "embedding_cache.npz"


def eval_chunks() -> list[tuple[str, str]]:
    """(content_hash, text) of the sample eval corpus's chunks."""
    eval_dir = DATASET / "eval"
    beir = load_beir(eval_dir / "corpus.jsonl", eval_dir / "queries.jsonl", eval_dir / "qrels.tsv")
    chunks, _ = chunk_documents(beir.docs)
    return [(chunk.content_hash, chunk.text) for chunk in chunks]


def index_chunks(database_url: str | None) -> list[tuple[str, str]]:
    """(content_hash, text) of every chunk in `kb.chunks` (None: the embedded server)."""
    from assistant.db import connect, resolve_database_url
    from assistant.settings import AssistantSettings

    settings = AssistantSettings()
    url = database_url or resolve_database_url(None, settings.kb_data_dir)
    with connect(url) as conn:
        rows = conn.execute("select content_hash, text from kb.chunks order by chunk_id")
        return [(str(h), str(t)) for h, t in rows.fetchall()]


def build(
    texts: list[tuple[str, str]],
    path: Path,
    *,
    batch: int = 32,
    limit: int | None = None,
    shard: tuple[int, int] = (0, 1),
    merge: Path | None = None,
) -> EmbeddingCache:
    """Embed what the cache at `path` lacks, saving after each batch.

    `shard` (k, n) embeds only hashes ≡ k mod n, so n processes can share the work;
    `merge` names another cache file (of the same key) whose vectors are taken over.
    """
    embedder = E5Embedder()
    cache = load_cache(path, embedder.key) or EmbeddingCache(embedder.key, embedder.dim)
    other = load_cache(merge, embedder.key)
    if other is not None:
        for content_hash in list(other.hashes()):
            vector = other.get(content_hash)
            if vector is not None:
                cache.add([content_hash], vector[None, :])
    todo: dict[str, str] = {}
    for content_hash, text in texts:
        if int(content_hash, 16) % shard[1] != shard[0]:
            continue
        if content_hash not in cache and content_hash not in todo:
            todo[content_hash] = text
    items = list(todo.items())[:limit]
    logger.info("%d chunks cached, %d to embed with %s", len(cache), len(items), embedder.key)
    started = time.monotonic()
    for start in range(0, len(items), batch):
        part = items[start : start + batch]
        cache.add([h for h, _ in part], embedder.embed([t for _, t in part]))
        cache.save(path)
        done = start + len(part)
        rate = done / max(time.monotonic() - started, 1e-9)
        logger.info(
            "%d/%d embedded, %.2f chunks/s, ETA %.0f s",
            done,
            len(items),
            rate,
            (len(items) - done) / rate,
        )
    cache.save(path)
    return cache


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--from-index", action="store_true", help="also cache kb.chunks")
    parser.add_argument("--database-url", help="where --from-index reads (default: embedded)")
    parser.add_argument("--no-eval", action="store_true", help="skip the eval corpus chunks")
    parser.add_argument("--out", type=Path, default=CACHE_PATH)
    parser.add_argument("--limit", type=int, default=None, help="embed at most N chunks")
    parser.add_argument("--shard", default="0/1", help="K/N: embed hashes ≡ K mod N only")
    parser.add_argument("--merge", type=Path, help="take over the vectors of another cache")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    texts: list[tuple[str, str]] = []
    if args.from_index:
        texts += index_chunks(args.database_url)
    if not args.no_eval:
        texts += eval_chunks()
    k, n = (int(part) for part in args.shard.split("/"))
    cache = build(texts, args.out, limit=args.limit, shard=(k, n), merge=args.merge)
    size = args.out.stat().st_size if args.out.exists() else 0
    logger.info("%s: %d vectors, %.2f MB", args.out, len(cache), size / 1e6)


if __name__ == "__main__":
    main()
