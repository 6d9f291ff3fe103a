"""Benchmark: do drafts keep the organisation's contacts and lose the customer's?

The sample's staff replies never print a support address, so `kb eval answers` on it has
nothing to measure here (0 of 0). Real ones do: on 246 held-out tickets 7 % of drafts said
«напишите в поддержку на [email]». This script writes a copy of the evaluation set as
real support desks write it — deterministic, by ticket id:

* a third of the past staff replies (id % 3 == 0) end with the desk's own contacts,
  «…напишите в поддержку на support@help.pyrus-demo.ru или позвоните 8 800 555-35-35.»,
  and so does the reference reply of every question one of them answers;
* every past ticket's question carries the customer's own e-mail and phone, different in
  every ticket («Мой телефон …, почта …») — they must never reach a draft.

It runs `kb eval answers`'s evaluation (the bot's retrieval-only composition, sample and
degraded questions) twice — with the public-contacts rule (`assistant/masking/public.py`)
and without it — and prints drafts holding a placeholder, those whose reference reply has
the public contact, and drafts holding a customer's e-mail or phone.

It first prints what the rule costs: finding the public contacts in the corpus and
masking every document with and without them (`--timing-only` stops there).

    .venv/bin/python -m benchmarks.public_contacts [--timing-only]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1] / "sample_data" / "dataset" / "eval"
PUBLIC_LINE = (
    "Если не получится, напишите в поддержку на support@help.pyrus-demo.ru "
    "или позвоните 8 800 555-35-35."
)


def _number(document_id: str) -> int:
    digits = "".join(ch for ch in document_id if ch.isdigit())
    return int(digits) if digits else 0


def private_line(document_id: str) -> str:
    """A customer's own contacts, different in every ticket."""
    n = _number(document_id)
    return (
        f"Мой телефон +7 916 {n % 900 + 100} {n % 90 + 10:02d} {n % 89 + 10:02d}, "
        f"почта client{n % 100000}@mail.ru."
    )


def augment(docs: list[Any], cases: list[Any]) -> tuple[list[Any], list[Any]]:
    """The corpus and questions as real desks write them (see the module doc)."""
    public_docs: set[str] = set()
    out_docs = []
    for doc in docs:
        body = doc.body
        if doc.source == "pyrus":
            subject, _, rest = body.partition("\n")
            body = f"{subject}\n{private_line(doc.document_id)}\n{rest}"
        if doc.source == "pyrus" and _number(doc.document_id) % 3 == 0:
            body = f"{body}\n{PUBLIC_LINE}"
            public_docs.add(doc.document_id)
        out_docs.append(dataclasses.replace(doc, body=body))
    out_cases = [
        dataclasses.replace(case, reference_answer=f"{case.reference_answer}\n{PUBLIC_LINE}")
        if case.relevant_doc_ids & public_docs
        else case
        for case in cases
    ]
    return out_docs, out_cases


def timing(docs: list[Any]) -> str:
    """What the rule costs on this corpus, as one line."""
    from assistant.bot.answer_eval import corpus_public_contacts
    from assistant.redact import redact

    started = time.perf_counter()
    public = corpus_public_contacts(docs)
    found = time.perf_counter() - started
    texts = [doc.body for doc in docs]
    started = time.perf_counter()
    for text in texts:
        redact(text)
    plain = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts:
        redact(text, public)
    kept = time.perf_counter() - started
    return (
        f"{len(texts)} documents, {sum(map(len, texts)) / 1e6:.2f} M characters: public "
        f"contacts found in {found * 1000:.0f} ms ({len(public.emails)} e-mail(s), "
        f"{len(public.phones)} phone(s)); masking all {plain * 1000:.0f} ms, with the public "
        f"contacts kept {kept * 1000:.0f} ms ({kept / len(texts) * 1000:.2f} ms a document)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus.jsonl")
    parser.add_argument("--data", type=Path, default=ROOT / "answers.jsonl")
    parser.add_argument("--timing-only", action="store_true")
    args = parser.parse_args(argv)

    from assistant.bot import answer_eval
    from assistant.bot.output_guard import OutputGuard
    from assistant.db import connect
    from flows.runtime import Runtime

    docs, cases = augment(answer_eval.load_corpus(args.corpus), answer_eval.load_cases(args.data))
    print(timing(docs))
    if args.timing_only:
        return
    runtime = Runtime.from_environment()
    results = {}
    with connect(runtime.database_url(), autocommit=True) as conn:
        results["with the rule"] = answer_eval.run_answer_evaluation(
            conn, runtime.settings, docs, cases
        )
        # the bot without the rule; the figures still know which contact is public
        with mock.patch.object(
            answer_eval, "OutputGuard", lambda _public, links: OutputGuard(None, links)
        ):
            results["without it"] = answer_eval.run_answer_evaluation(
                conn, runtime.settings, docs, cases
            )
    print(
        f"{len(docs)} documents, {len(cases)} questions; "
        f"{sum(PUBLIC_LINE in case.reference_answer for case in cases)} reference replies "
        "carry the desk's public contacts"
    )
    header = (
        f"{'':26}{'pass':>10}{'placeholder':>13}{'…ref. public':>14}{'customer contact':>18}"
        f"{'chrF':>7}"
    )
    print(header)
    for name, result in results.items():
        for part in ("sample", "degraded"):
            figures = result[part]
            held = figures["placeholders"]
            print(
                f"{name:26}{part:>10}{held['drafts_with_placeholders']:>13}"
                f"{held['where_reference_has_public_contact']:>8} of "
                f"{held['references_with_public_contact']:<3}"
                f"{held['drafts_with_a_private_contact']:>18}{figures['ours']['chrf']:>7.1f}"
            )


if __name__ == "__main__":
    main()
