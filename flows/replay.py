"""Prefect flow `replay`: bot decisions for post-rollout tickets the bot has not seen.

History loaded by a backfill (or tickets whose webhook never arrived) gets its arm and
suggestion the way production does: through the bot's own deterministic assignment and
logging (`assistant.bot.replay.replay_history`), never as labels made up in a mart.
Nothing is posted to Pyrus. Re-running is a no-op for tickets already logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import psycopg
from prefect import flow

from assistant.bot.replay import count_unlogged_tasks, replay_history
from assistant.bot.suggest import Suggester, open_suggester
from assistant.db import connect
from assistant.effect.data import rollout_start
from assistant.progress import NO_PROGRESS, Progress
from assistant.settings import AssistantSettings
from flows.artifacts import publish_summary
from flows.progress import progress_bar
from flows.runtime import Runtime, current_runtime
from flows.steps import stage_step

logger = logging.getLogger(__name__)

ARTIFACT_KEY = "replay-summary"
BATCH_SIZE = 200

SuggesterFactory = Callable[[psycopg.Connection], Suggester]


def replay_new_tickets(
    url: str,
    settings: AssistantSettings,
    *,
    suggester_factory: SuggesterFactory | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress = NO_PROGRESS,
) -> dict[str, Any]:
    """Log the bot's decision for every post-rollout ticket without one, in batches.

    Each batch commits, so an interrupted run keeps what it logged and the next run
    continues where it stopped.
    """
    factory = suggester_factory or (lambda conn: open_suggester(conn, settings))
    logged = holdout = 0
    forms = settings.pyrus_form_ids or None
    with connect(url) as conn:
        since = rollout_start(conn)
        pending = count_unlogged_tasks(conn, since, forms)
        if pending == 0:  # the usual day: the webhook saw every ticket; no index needed
            return {"since": since.isoformat(), "pending": 0, "logged": 0, "holdout": 0}
        suggester = factory(conn)
        progress.expect(pending)
        while True:
            summary = replay_history(
                conn,
                suggester,
                holdout_share=settings.assistant_holdout,
                since=since,
                form_ids=forms,
                limit=batch_size,
            )
            conn.commit()
            logged += summary.logged
            holdout += summary.holdout
            progress.advance(summary.logged)
            if summary.logged < batch_size:
                break
    logger.info("replay since %s: %d logged, %d holdout", since.isoformat(), logged, holdout)
    return {
        "since": since.isoformat(),
        "pending": pending,
        "logged": logged,
        "holdout": holdout,
    }


def replay_boundary(url: str, progress: Progress) -> dict[str, Any]:
    """`replay_new_tickets` with the active runtime's settings (task parameters are stored)."""
    return replay_new_tickets(url, current_runtime().settings, progress=progress)


@flow(name="replay")
def replay() -> dict[str, Any]:
    """Log suggestions for post-rollout tickets that have none; ends with an artifact."""
    runtime = current_runtime()
    with progress_bar(runtime.progress, "replay", "tickets") as progress:
        summary = stage_step("replay-history", replay_boundary, runtime.database_url(), progress)
    publish_summary(ARTIFACT_KEY, summary, "replay: bot decisions logged for history tickets")
    return summary


def run(runtime: Runtime) -> dict[str, Any]:
    """`kb refresh --only replay` (full changes nothing: replay only fills gaps)."""
    with runtime.active():
        return replay()
