"""Help texts name only commands that exist (`kb eval retrieval --help` once said `kb tune`)."""

from __future__ import annotations

import re

import click
import typer

from flows.cli import app
from flows.demo import NEXT_STEPS

# `kb X` where a command is meant: in backticks or parentheses, after a label's colon or
# "then", or at the start of a line (prose like "point kb at them" is not a command)
KB_COMMAND = re.compile(r"(?:^|[`(:;]|\bthen)\s*kb ([a-z]+)", re.MULTILINE)


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """Every command path and its help text (options included)."""
    found: dict[tuple[str, ...], str] = {}
    for name, command in group.commands.items():
        path = (*prefix, name)
        texts = [command.help or ""] + [getattr(p, "help", "") or "" for p in command.params]
        found[path] = "\n".join(texts)
        if isinstance(command, click.Group):
            found |= _commands(command, path)
    return found


def _names_a_command(words: list[str], known: set[tuple[str, ...]]) -> bool:
    return (words[0],) in known


def test_help_texts_and_demo_hint_name_existing_commands() -> None:
    commands = _commands(typer.main.get_command(app))  # type: ignore[arg-type]
    known = set(commands)
    texts = [*commands.values(), NEXT_STEPS]
    mentioned = [[match] for text in texts for match in KB_COMMAND.findall(text)]
    assert mentioned  # the pattern finds the mentions it checks
    stale = [" ".join(words) for words in mentioned if not _names_a_command(words, known)]
    assert stale == []


def test_sandbox_help_says_how_to_use_it() -> None:
    help_text = _commands(typer.main.get_command(app))[("sandbox",)]  # type: ignore[arg-type]
    assert len(help_text.splitlines()) > 3
    assert "KEY=VALUE" in help_text
