"""`kb llm check`: probe the configured LLM endpoint (logic in assistant/llm/check.py)."""

from __future__ import annotations

import typer

llm_app = typer.Typer(help="The organisation's LLM endpoint.", no_args_is_help=True)


@llm_app.command("check")
def llm_check() -> None:
    """List models, find the context window, try structured output and thinking on/off,
    run one sample ticket through the real prompt; exit 1 when the endpoint is unusable."""
    from assistant.llm.check import run_check
    from assistant.settings import AssistantSettings

    report = run_check(AssistantSettings())
    for line in report.lines:
        typer.echo(f"{'ok ' if line.ok else '-- '} {line.name:<18} {line.detail}")
    if report.will_use:
        used = ", ".join(f"{key}={value}" for key, value in report.will_use.items())
        typer.echo(f"will use: {used}")
    if report.failure:
        typer.echo(report.failure, err=True)
        raise typer.Exit(1)
