"""`kb demo`: the whole loop on the embedded defaults, the emulators and the sample data.

1. the embedded Postgres and the local Pyrus / Confluence emulators (127.0.0.1 only);
2. `kb-refresh` over day 1 of the sample history (the same flow as production);
3. the emulator's clock moves one day and the extract runs again: only what changed loads;
4. a new ticket is created in the emulated Pyrus and its webhook, signed like Pyrus signs
   it, goes to the bot; the comment that landed in the ticket is printed.

Re-runnable: the emulator starts from the same sample each time, so its next ticket id
repeats; the demo skips ids the bot has already seen in this database, and every run
shows a fresh comment. The steps after the first are `DemoStep`s in `STEPS`: a later
part (a follow-up message, a question) is one more function appended there. A step
that cannot go on raises `DemoFailed` with one line that says what to do.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from assistant.bot.arms import assign_arm
from assistant.config import load_settings
from assistant.db import connect
from assistant.errors import KbError
from assistant.servers import run_in_thread
from flows.artifacts import one_line
from flows.runtime import Runtime
from flows.settings import FlowSettings

TAG = re.compile(r"<[^>]+>")
DEMO_SENDER = ("Марина Ковалёва", "m.kovaleva@zerno-coffee.ru")
# The demo's output fits two 50-line screens at 100 columns (tests/flows/test_demo_output.py):
# stage lines are cut to one line each and the two panels to these many lines.
COMMENT_MAX_LINES = 40
DRAFT_MAX_LINES = 18
# Each line fits 80 columns; the Prefect lines follow the README runbook's order
# (the API URL is exported before the server starts, then runs go to that server).
NEXT_STEPS = (
    "\n[bold]Where to look next[/bold] (first: source .venv/bin/activate)\n"
    "  effect report:  kb report effect --out report.html\n"
    "  dbt docs:       kb report docs\n"
    '  ask the bot:    kb ask "не приходят уведомления на почту"\n'
    "  run it again:   make demo (each run sends a new ticket)\n"
    "  Prefect UI:     export PREFECT_API_URL=http://127.0.0.1:4200/api\n"
    "                  prefect server start; then kb refresh in a second shell\n"
    "                  (README: Runbooks)"
)
# A new sample ticket per attempt; the bot's log grows by one ticket per run.
MAX_TICKET_ATTEMPTS = 500


class DemoFailed(KbError):
    """A demo step could not go on; the message is one line that says what to do."""


def html_to_terminal(formatted: str) -> str:
    """A readable plain-text view of a Pyrus `formatted_text` comment."""
    text = re.sub(r"<br\s*/?>|</p>|</h\d>|</li>", "\n", formatted, flags=re.IGNORECASE)
    text = re.sub(r"<li[^>]*>", "  • ", text, flags=re.IGNORECASE)
    text = re.sub(r'<a href="([^"]+)"[^>]*>([^<]*)</a>', r"\2 (\1)", text)
    text = unescape(TAG.sub("", text))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def clipped(console: Console, text: str, max_lines: int) -> Text:
    """`text` as a panel shows it, cut to `max_lines` terminal lines with a closing note."""
    inner = console.options.update_width(max(20, console.width - 4))
    lines = console.render_lines(Text(text), inner, pad=False)
    if len(lines) <= max_lines:
        return Text(text)
    kept = ["".join(segment.text for segment in line).rstrip() for line in lines[: max_lines - 1]]
    rest = len(lines) - len(kept)
    return Text("\n".join([*kept, f"… ещё строк: {rest} (целиком — в задаче в Pyrus)"]))


def print_step(console: Console, number: int, text: str, total: int = 4) -> None:
    console.print(f"[bold]{number}/{total}[/bold] {text}")


def print_emulators(console: Console, pyrus_url: str, confluence_url: str) -> None:
    console.print(f"    Pyrus API emulator:  {pyrus_url}")
    console.print(f"    Confluence emulator: {confluence_url}")


def print_extract(console: Console, summary: dict[str, Any]) -> None:
    """The incremental extract: one line per source, cut on a terminal, whole in a log."""
    for source, counts in summary.items():
        line = f"    {source}: {one_line(counts)}"
        if console.is_terminal:
            console.print(line, no_wrap=True, overflow="ellipsis", crop=True)
        else:
            console.print(line, soft_wrap=True)


def print_bot_result(
    console: Console, ticket: str, comment_html: str, draft: str | None = None
) -> None:
    """The bot's comment as it landed in the ticket (and the draft field), in panels."""
    console.print(f"    {ticket}")
    body = clipped(console, html_to_terminal(comment_html), COMMENT_MAX_LINES)
    console.print(Panel(body, title="Комментарий бота в Pyrus"))
    if draft:
        console.print(
            Panel(clipped(console, draft, DRAFT_MAX_LINES), title="Черновик ответа (поле формы)")
        )


def _seen_by_bot(database_url: str, task_id: int) -> bool:
    """The bot already has this ticket id (a previous demo run against this database)."""
    with connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "select exists (select 1 from assistant.inbox where task_id = %s)"
            " or exists (select 1 from assistant.suggestions where task_id = %s)",
            (task_id, task_id),
        ).fetchone()
    return bool(row and row[0])


def _pick_ticket(sandbox: Any, holdout_share: float, database_url: str) -> dict[str, Any]:
    """A new sample ticket in the treatment arm (holdout ones are not posted), new to the bot.

    Each attempt creates a ticket in the emulator (ids count up from the sample's
    highest); ids the bot has seen in an earlier run are passed over.
    """
    lines = (Path(sandbox.dataset.root) / "new_tickets.jsonl").read_text("utf-8").splitlines()
    tickets = [json.loads(line) for line in lines if line.strip()]
    for ticket in itertools.islice(itertools.cycle(tickets), MAX_TICKET_ATTEMPTS):
        # the sample tickets name the client organisation; give the sender a person's name
        created = sandbox.create_ticket(
            {**ticket, "client_name": DEMO_SENDER[0], "client_email": DEMO_SENDER[1]}
        )
        task_id = int(created["id"])
        if assign_arm(task_id, holdout_share) == "treatment" and not _seen_by_bot(
            database_url, task_id
        ):
            return created
    raise DemoFailed(
        f"no new treatment-arm ticket in {MAX_TICKET_ATTEMPTS} tries; "
        "start from scratch with `kb db stop && rm -rf .data`"
    )


def _bot_comment(sandbox: Any, task_id: int, bot_login: str) -> dict[str, Any] | None:
    """Read the ticket back from the emulated Pyrus API and find the bot's comment."""
    with httpx.Client(timeout=10) as client:
        auth = client.post(
            sandbox.pyrus_auth_url,
            json={"login": sandbox.pyrus_login, "security_key": sandbox.pyrus_key},
        ).json()
        task = client.get(
            f"{auth['api_url']}tasks/{task_id}",
            headers={"Authorization": f"Bearer {auth['access_token']}"},
        ).json()["task"]
    own = [c for c in task.get("comments", []) if c.get("author", {}).get("email") == bot_login]
    return own[-1] if own else None


def _inbox_outcome(database_url: str, task_id: int) -> str:
    """What the bot's inbox says about the task, for a one-line failure."""
    with connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "select status, coalesce(outcome, last_error, '') from assistant.inbox"
            " where task_id = %s order by id desc limit 1",
            (task_id,),
        ).fetchone()
    if row is None:
        return "no inbox job"
    return " ".join(f"{row[0]}: {row[1]}".split())[:200]


@dataclass
class DemoRun:
    """What the steps share: the terminal, the sandbox, the sourced runtime, what happened."""

    console: Console
    sandbox: Any
    runtime: Runtime
    database_url: str
    verbose: bool = False
    notes: dict[str, Any] = field(default_factory=dict)  # e.g. the ticket step 4 created


DemoStep = Callable[[DemoRun], None]


def refresh_history(run: DemoRun) -> None:
    """`kb-refresh` over day 1 of the sample history (the production flow)."""
    from flows.refresh import kb_refresh
    from flows.terminal import quiet_prefect_console

    if not run.verbose:
        quiet_prefect_console()
    with run.runtime.active():
        kb_refresh(full=False)


def incremental_extract(run: DemoRun) -> None:
    """The emulator's clock moves a day; the extract loads only what changed."""
    from flows.stages import stage_runner

    run.sandbox.clock.advance(days=1)
    print_extract(run.console, stage_runner("extract")(run.runtime))


def new_ticket(run: DemoRun) -> None:
    """A new ticket; Pyrus calls the bot's webhook; the comment that landed is printed."""
    from assistant.bot.pipeline import build_pipeline, drain_inbox
    from assistant.bot.suggestion_log import wait_for_task
    from assistant.bot.webhook import create_app

    settings, url, sandbox = run.runtime.settings, run.database_url, run.sandbox
    pipeline = build_pipeline(settings)
    app = create_app(settings, url, pipeline=None)
    with run_in_thread(app) as bot:
        ticket = _pick_ticket(sandbox, settings.assistant_holdout, url)
        task_id = int(ticket["id"])
        run.notes["ticket"] = ticket
        delivery = sandbox.send_webhook(f"{bot.url}/pyrus/webhook", task_id)
        if not delivery.ok:
            raise DemoFailed(
                f"the bot's webhook did not accept ticket #{task_id} "
                f"({' '.join(str(delivery.attempts[-1]).split())[:160]}); "
                "run `kb demo --verbose` to see why"
            )
        drain_inbox(url, pipeline)
        with connect(url) as conn:
            suggestion = wait_for_task(conn, task_id)
    comment = _bot_comment(sandbox, task_id, sandbox.pyrus_login)
    subject = next(
        (f.get("value") for f in ticket.get("fields", []) if f.get("name") == "Тема"), ""
    )
    if comment is None:
        raise DemoFailed(
            f"the bot posted no comment on ticket #{task_id} "
            f"(inbox: {_inbox_outcome(url, task_id)}); run `kb demo --verbose` to see why, "
            "or start from scratch with `kb db stop && rm -rf .data`"
        )
    draft = None
    if suggestion and suggestion.get("draft_reply") and settings.pyrus_draft_field_id:
        draft = str(suggestion["draft_reply"])
    print_bot_result(
        run.console,
        f"Ticket #{task_id}: «{subject}»",
        comment.get("formatted_text") or comment.get("text") or "",
        draft,
    )


def conversation(run: DemoRun) -> None:
    """The same ticket goes on: a follow-up, a thank-you, an engineer's `/kb` question."""
    from assistant.bot.pipeline import build_pipeline
    from flows.demo_conversation import demo_conversation

    task_id = int(run.notes["ticket"]["id"])
    pipeline = build_pipeline(run.runtime.settings)
    if not demo_conversation(run.console, run.sandbox, pipeline, run.database_url, task_id):
        raise DemoFailed(
            f"the bot did not answer the follow-up or the question on ticket #{task_id}; "
            "run `kb demo --verbose` to see why"
        )


# The steps after "start the database and the emulators", in order, with their titles.
STEPS: list[tuple[str, DemoStep]] = [
    ("kb-refresh over the sample history (day 1)…", refresh_history),
    ("One day later: the incremental extract…", incremental_extract),
    ("A new ticket arrives; Pyrus calls the bot's webhook…", new_ticket),
    ("The customer writes again; an engineer asks the bot…", conversation),
]


def run_demo(console: Console, *, verbose: bool = False) -> int:
    """Run the demo; returns the process exit code (`verbose`: Prefect's run log too).

    A failing step raises `DemoFailed` (a `KbError`): `kb` prints it as one line.
    """
    from flows.terminal import print_stage
    from sample_data.emulators.sandbox import start_sandbox

    total = len(STEPS) + 1
    runtime = Runtime.from_environment()
    database_url = runtime.database_url()
    print_step(console, 1, "Embedded Postgres + pgvector ready; starting the emulators…", total)
    # The demo tunes retrieval on the newest 600 labelled tickets (production: 3000) so that
    # it stays within a few minutes on 2 cores; most of them were replayed, so their vectors
    # are already stored (assistant/knowledge/search/query_vectors.py).
    os.environ.setdefault("KB_TUNE_MAX_TICKETS", "600")
    with start_sandbox() as sandbox:
        os.environ.update(sandbox.env())
        print_emulators(console, sandbox.pyrus_url, sandbox.confluence_url)
        # the sources are in the environment now: settings again, the same database
        sourced = Runtime(
            settings=load_settings(FlowSettings),
            progress=True,
            on_stage=lambda result: print_stage(console, result, cut=True),
            _url=database_url,
        )
        run = DemoRun(console, sandbox, sourced, database_url, verbose=verbose)
        for number, (title, step) in enumerate(STEPS, start=2):
            print_step(console, number, title, total)
            step(run)
    console.print(NEXT_STEPS)
    return 0
