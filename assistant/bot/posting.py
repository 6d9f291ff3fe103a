"""Post one inbox job's comment at most once: the one posting path of the bot.

Both a ticket's first suggestion (`pipeline.BotPipeline.post`) and a conversation turn
(`turn_job`) post through `post_once`, so the guarantees of docs/reliability.md hold for
every comment the bot writes:

- the comment carries the job's marker (`kb:<inbox id>`), so it is found again whatever
  happened to the HTTP answer;
- after a POST whose outcome is unknown (timeout, dropped connection, 5xx) the job waits
  `BOT_POST_RECHECK_SECONDS` — Pyrus may still apply it late — then looks for its marker
  before it posts again;
- a POST first passes the lease fence (`inbox.begin_post`: a reclaimed job's old holder
  cannot post) and is bounded by what is left of the job's deadline.

What is logged about the attempt (the suggestion row or the turn row) is the caller's:
it passes `on_attempt` and `on_error`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg

from assistant.bot.comment_format import CommentBody
from assistant.bot.inbox import (
    Job,
    RetryLater,
    TransientJobError,
    begin_post,
    clear_post_sent,
    post_sent_age,
)
from assistant.bot.pyrus_client import PostOutcomeUnknown, PyrusPoster, comment_marker
from assistant.errors import KbError
from assistant.settings import AssistantSettings

POST_MIN_SECONDS = 1.0
"""A POST is not started with less of the job's deadline left than this."""


class JobDeadline(TransientJobError):
    """The job used up its deadline before posting; its rerun reuses what was generated."""


def post_once(
    poster: PyrusPoster,
    settings: AssistantSettings,
    conn: psycopg.Connection,
    job: Job,
    body: CommentBody,
    bot_id: int | None,
    *,
    on_attempt: Callable[[], None],
    on_error: Callable[[str], None],
) -> tuple[int, int]:
    """Post `body` for `job` unless an earlier POST of it landed; (comment id, ms spent)."""
    comment_id = None
    marker = comment_marker(job.id)
    age = post_sent_age(conn, job)
    if age is not None:  # an earlier POST may have reached Pyrus, or still may
        wait = settings.bot_post_recheck_seconds - age
        if wait > 0:
            raise RetryLater(
                f"an earlier POST's outcome is unknown: {marker} is looked for in {wait:.0f}s",
                delay_seconds=wait,
            )
        comment_id = poster.find_own_comment(
            job.task_id,
            job.access_token,
            bot_id,
            after_id=job.comment_id,
            marker=marker,
            deadline=job.deadline,
        )
    started = time.perf_counter()
    if comment_id is None:
        budget = min(job.remaining(), poster.max_call_seconds)
        if budget < POST_MIN_SECONDS:
            raise JobDeadline(f"inbox job {job.id} ran out of its deadline before posting")
        begin_post(conn, job, budget)  # the fence: raises LeaseLost if reclaimed
        on_attempt()
        try:
            comment_id = poster.post_comment(
                job.task_id,
                body,
                job.access_token,
                marker=marker,
                deadline=time.monotonic() + budget,
            )
        except PostOutcomeUnknown as exc:
            on_error(str(exc))
            raise
        except KbError as exc:  # refused, rate-limited or never sent: not applied
            clear_post_sent(conn, job)
            on_error(str(exc))
            raise
    return int(comment_id), int((time.perf_counter() - started) * 1000)
