"""`kb inbox` and `kb inbox retry ID|--failed`: the bot's troubled jobs, and re-queuing them.

The logic lives in `assistant.bot.inbox_admin`; this module only connects and prints.
What the states mean and how long jobs retry on their own: docs/reliability.md.
"""

from __future__ import annotations

from typing import Annotated

import typer

from assistant.errors import ConfigError

inbox_app = typer.Typer(
    help="The bot's inbox: failed, stuck and retrying jobs, dead letters; re-queue.",
    invoke_without_command=True,
)


def _connect():  # type: ignore[no-untyped-def]
    from assistant.db import connect
    from flows.runtime import Runtime

    return connect(Runtime.from_environment().database_url(), autocommit=True)


@inbox_app.callback()
def inbox_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 100,
) -> None:
    """List failed, stuck (lease ran out) and retrying jobs, and rejected dead letters."""
    if ctx.invoked_subcommand is not None:
        return
    from assistant.bot.inbox_admin import troubled_jobs

    with _connect() as conn:
        rows = troubled_jobs(conn, limit)
    if not rows:
        typer.echo("no failed, stuck or retrying jobs, no dead letters")
        return
    typer.echo(f"{'id':>8}  {'task':>12}  {'status':<11}  {'tries':>5}  {'since':<19}  error")
    for row in rows:
        since = row.since.strftime("%Y-%m-%d %H:%M:%S") if row.since else ""
        typer.echo(
            f"{row.id:>8}  {row.task_id:>12}  {row.status:<11}  {row.attempts:>5}  {since:<19}"
            f"  {row.error}"
        )


@inbox_app.command("retry")
def inbox_retry(
    job_ids: Annotated[list[int] | None, typer.Argument(help="Inbox job ids.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every failed job.")] = False,
) -> None:
    """Put failed jobs back to pending (a job that posted is never re-posted)."""
    from assistant.bot.inbox_admin import requeue

    if bool(job_ids) == failed:
        raise ConfigError("give job ids or --failed (not both)")
    with _connect() as conn:
        done = requeue(conn, None if failed else list(job_ids or []), why="kb inbox retry")
    missing = sorted(set(job_ids or []) - set(done))
    typer.echo(f"re-queued {len(done)} job(s)" + (f": {', '.join(map(str, done))}" if done else ""))
    if missing:
        typer.echo(f"not failed, left as they are: {', '.join(map(str, missing))}")
