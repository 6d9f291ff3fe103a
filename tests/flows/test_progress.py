"""Progress bars: total, rate and ETA on a terminal, silence elsewhere; the index reports."""

from __future__ import annotations

import pytest

from assistant.db import connect
from assistant.knowledge.index.indexing import index_documents
from assistant.knowledge.index.store import KnowledgeStore
from assistant.progress import NO_PROGRESS
from flows.progress import progress_bar
from tests.knowledge.kb_helpers import beir_mini, offline_settings


class Recorder:
    def __init__(self) -> None:
        self.expected = 0
        self.done: list[int] = []

    def expect(self, more: int) -> None:
        self.expected += more

    def advance(self, done: int) -> None:
        self.done.append(done)


def test_a_bar_shows_total_rate_and_eta_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    with progress_bar(True, "replay", "tickets") as progress:
        progress.expect(300)
        for _ in range(3):
            progress.advance(100)
    err = capsys.readouterr().err
    assert "300/300" in err
    assert "tickets" in err
    assert "ETA" in err
    assert "/s" in err


def test_no_bar_when_disabled_or_piped(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(False, "index", "chunks") as progress:
        assert progress is NO_PROGRESS
    with progress_bar(True, "index", "chunks") as progress:  # capsys: not a terminal
        assert progress is NO_PROGRESS
        progress.expect(3)
        progress.advance(3)
    assert capsys.readouterr().err == ""


@pytest.mark.db
def test_indexing_reports_every_embedded_chunk(database_url: str) -> None:
    docs = beir_mini().docs[:6]
    recorder = Recorder()
    with connect(database_url) as conn:
        report = index_documents(
            KnowledgeStore(conn), docs, offline_settings(), full=True, progress=recorder
        )
        conn.rollback()
    assert report.embedded > 0
    assert recorder.expected == report.embedded == sum(recorder.done)
