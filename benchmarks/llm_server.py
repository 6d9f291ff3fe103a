"""Benchmark: latency per suggestion against a real model server (llama-cpp-python).

The bot's LLM path as it runs in production — the real suggestion prompt, the schema
step-down, the context fit — against `llama_cpp.server` serving Gemma 3 270M on
127.0.0.1 (tests/llm/real_server.py; needs the llm-server extra, `make install-llm`).
The tickets are the emulator tests' first three (a short one, one with a pasted
9,000-character log, another short one), over the same in-memory sources; each also goes through the
categorization fallback. Prints one line per call and p50/max per kind.

    .venv/bin/python -m benchmarks.llm_server            # 3 tickets, 2 rounds
    .venv/bin/python -m benchmarks.llm_server --rounds 1

CPU-bound: on 2 shared cores most of a call is prompt evaluation (~1,400-1,700 tokens).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from assistant.bot.suggest import Suggester
    from assistant.categorization.llm_fallback import LLMCategorizationError, LLMClassifier
    from assistant.llm.client import llm_from_settings
    from assistant.settings import AssistantSettings
    from tests.bot.test_suggest import FakeCategorizer, FakeRetriever
    from tests.llm.real_server import MISSING, MODEL_ALIAS, start_real_server
    from tests.llm.test_server_behaviours import TAXONOMY, TICKETS, docs

    if MISSING:
        raise SystemExit(MISSING)
    started = time.perf_counter()
    server = start_real_server(Path(tempfile.mkdtemp(prefix="kb-llm-bench-")))
    print(f"server up in {time.perf_counter() - started:.1f} s ({server.base_url})")
    try:
        settings = AssistantSettings(
            _env_file=None,  # type: ignore[call-arg]
            llm_base_url=server.base_url,
            llm_model=MODEL_ALIAS,
            llm_timeout_seconds=600,
            llm_max_retries=0,
        )
        bot = Suggester(
            FakeRetriever(docs(), threshold=0.0), FakeCategorizer(), llm_from_settings(settings)
        )
        classifier = LLMClassifier.from_settings(settings, TAXONOMY)
        assert classifier is not None
        suggest_ms: list[int] = []
        category_ms: list[float] = []
        for round_no in range(args.rounds):
            for i, (subject, description) in enumerate(TICKETS[:3], 1):
                s = bot.suggest(subject, description)
                suggest_ms.append(s.llm_ms)
                print(
                    f"round {round_no + 1} ticket {i} ({len(description)} chars): "
                    f"{s.llm_ms / 1000:.1f} s, mode={s.mode} "
                    f"reason={s.fallback_reason} output={s.llm_output_mode} "
                    f"finish={s.llm_finish_reason} tokens={s.prompt_tokens}+{s.completion_tokens}"
                )
                t0 = time.perf_counter()
                try:
                    answer = classifier.classify(f"{subject}\n{description}").category_code
                except LLMCategorizationError as exc:
                    answer = f"error: {exc}"
                category_ms.append((time.perf_counter() - t0) * 1000)
                print(f"    categorization: {category_ms[-1] / 1000:.1f} s -> {answer}")
        for name, values in (("suggestion", suggest_ms), ("categorization", category_ms)):
            print(
                f"{name}: n={len(values)} p50={statistics.median(values) / 1000:.1f} s "
                f"max={max(values) / 1000:.1f} s"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
