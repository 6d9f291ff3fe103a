"""`kb demo`: the whole loop on the embedded defaults, the emulators and the sample data.

1. the embedded Postgres and the local Pyrus / Confluence emulators (127.0.0.1 only);
2. `kb-refresh` over day 1 of the sample history (the same flow as production);
3. the emulator's clock moves one day and the extract runs again: only what changed loads;
4. a new ticket is created in the emulated Pyrus and its webhook, signed like Pyrus signs
   it, goes to the bot; the comment that landed in the ticket is printed.
"""

from __future__ import annotations

import json
import os
import re
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
NEXT_STEPS = (
    "\n[bold]Where to look next[/bold]\n"
    "  effect report:  kb report effect --out report.html\n"
    "  dbt docs:       kb report docs\n"
    '  ask the bot:    kb ask "не приходят уведомления на почту"\n'
    "  Prefect UI:     prefect server start, then PREFECT_API_URL=http://127.0.0.1:4200/api "
    "kb refresh (README: Runbooks)"
)


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


def print_step(console: Console, number: int, text: str) -> None:
    console.print(f"[bold]{number}/4[/bold] {text}")


def print_emulators(console: Console, pyrus_url: str, confluence_url: str) -> None:
    console.print(f"    Pyrus API emulator:  {pyrus_url}")
    console.print(f"    Confluence emulator: {confluence_url}")


def print_extract(console: Console, summary: dict[str, Any]) -> None:
    """The incremental extract: one cut line per source."""
    for source, counts in summary.items():
        console.print(
            f"    {source}: {one_line(counts)}", no_wrap=True, overflow="ellipsis", crop=True
        )


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


def _pick_ticket(sandbox: Any, holdout_share: float) -> dict[str, Any]:
    """The first sample ticket that lands in the treatment arm (holdout ones are not posted)."""
    lines = (Path(sandbox.dataset.root) / "new_tickets.jsonl").read_text("utf-8").splitlines()
    tickets = [json.loads(line) for line in lines if line.strip()]
    for ticket in tickets:
        # the sample tickets name the client organisation; give the sender a person's name
        created = sandbox.create_ticket(
            {**ticket, "client_name": DEMO_SENDER[0], "client_email": DEMO_SENDER[1]}
        )
        if assign_arm(int(created["id"]), holdout_share) == "treatment":
            return created
    raise RuntimeError("every sample ticket landed in the holdout arm")


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


def run_demo(console: Console, *, verbose: bool = False) -> int:
    """Run the demo; returns the process exit code (`verbose`: Prefect's run log too)."""
    from flows.refresh import kb_refresh
    from flows.stages import stage_runner
    from flows.terminal import print_stage, quiet_prefect_console
    from sample_data.emulators.sandbox import start_sandbox

    runtime = Runtime.from_environment()
    database_url = runtime.database_url()
    print_step(console, 1, "Embedded Postgres + pgvector ready; starting the emulators…")
    # The demo tunes retrieval on the newest 600 labelled tickets (production: 3000) so that
    # it stays within a few minutes on 2 cores; most of them were replayed, so their vectors
    # are already stored (assistant/knowledge/search/query_vectors.py).
    os.environ.setdefault("KB_TUNE_MAX_TICKETS", "600")
    with start_sandbox() as sandbox:
        os.environ.update(sandbox.env())
        print_emulators(console, sandbox.pyrus_url, sandbox.confluence_url)
        print_step(console, 2, "kb-refresh over the sample history (day 1)…")
        # the sources are in the environment now: settings again, the same database
        sourced = Runtime(
            settings=load_settings(FlowSettings),
            progress=True,
            on_stage=lambda result: print_stage(console, result, cut=True),
            _url=database_url,
        )
        if not verbose:
            quiet_prefect_console()
        with sourced.active():
            kb_refresh(full=False)

        print_step(console, 3, "One day later: the incremental extract…")
        sandbox.clock.advance(days=1)
        print_extract(console, stage_runner("extract")(sourced))

        print_step(console, 4, "A new ticket arrives; Pyrus calls the bot's webhook…")
        settings = sourced.settings
        from assistant.bot.pipeline import build_pipeline, drain_inbox
        from assistant.bot.suggestion_log import wait_for_task
        from assistant.bot.webhook import create_app

        pipeline = build_pipeline(settings)
        app = create_app(settings, database_url, pipeline=None)
        with run_in_thread(app) as bot:
            ticket = _pick_ticket(sandbox, settings.assistant_holdout)
            delivery = sandbox.send_webhook(f"{bot.url}/pyrus/webhook", int(ticket["id"]))
            if not delivery.ok:
                console.print(f"[red]webhook failed:[/red] {delivery.attempts[-1]}")
                return 1
            drain_inbox(database_url, pipeline)
            with connect(database_url) as conn:
                suggestion = wait_for_task(conn, int(ticket["id"]))
        comment = _bot_comment(sandbox, int(ticket["id"]), sandbox.pyrus_login)
        subject = next(
            (f.get("value") for f in ticket.get("fields", []) if f.get("name") == "Тема"), ""
        )
        if comment is None:
            console.print(f"    Ticket #{ticket['id']}: «{subject}»")
            console.print("[red]the bot posted no comment[/red]", suggestion)
            return 1
        draft = None
        if suggestion and suggestion.get("draft_reply") and settings.pyrus_draft_field_id:
            draft = str(suggestion["draft_reply"])
        print_bot_result(
            console,
            f"Ticket #{ticket['id']}: «{subject}»",
            comment.get("formatted_text") or comment.get("text") or "",
            draft,
        )
    console.print(NEXT_STEPS)
    return 0
