"""`kb taxonomy init|check`: the category seed from the organization's own Pyrus form.

The logic lives in `assistant.categorization.taxonomy_init` / `taxonomy_check`; this
module only reads settings, fetches form definitions (Pyrus API when credentials are
set, else the forms the extract landed in `raw.pyrus_forms`) and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.errors import ConfigError

taxonomy_app = typer.Typer(
    help="The category taxonomy (dbt_project/seeds/categories.csv) and the Pyrus form.",
    no_args_is_help=True,
)


def _runtime():  # type: ignore[no-untyped-def]
    from flows.runtime import Runtime

    return Runtime.from_environment()


def _seed_path() -> Path:
    """The seed categorize reads: KB_CATEGORIZE_TAXONOMY_PATH, else the dbt seed."""
    from assistant.categorization.policy import CategorizeConfig
    from assistant.categorization.taxonomy import DEFAULT_TAXONOMY_PATH
    from assistant.config import load_settings

    return load_settings(CategorizeConfig).taxonomy_path or DEFAULT_TAXONOMY_PATH


def _forms_from_api(settings: Any, form_ids: list[int]) -> list[dict[str, Any]]:
    from assistant.sources.pyrus import DEFAULT_AUTH_URL, PyrusClient

    if not form_ids:
        raise ConfigError("set PYRUS_FORM_IDS or pass --from-form FORM_ID")
    with PyrusClient(
        settings.pyrus_login,
        settings.pyrus_security_key.get_secret_value(),
        auth_url=settings.pyrus_auth_url or DEFAULT_AUTH_URL,
        api_url=settings.pyrus_api_url,
        token_cache_dir=settings.kb_data_dir / "tokens",
    ) as client:
        return [client.form(form_id) for form_id in form_ids]


def _forms(runtime: Any, from_form: int | None) -> tuple[list[dict[str, Any]], str]:
    """Form payloads and where they came from."""
    from assistant.categorization.taxonomy_check import read_forms
    from assistant.db import connect

    settings = runtime.settings
    form_ids = [from_form] if from_form is not None else list(settings.pyrus_form_ids)
    if settings.pyrus_login and settings.pyrus_security_key:
        return _forms_from_api(settings, form_ids), "the Pyrus API"
    with connect(runtime.database_url(), autocommit=True) as conn:
        forms = read_forms(conn, form_ids)
    if not forms:
        raise ConfigError(
            "no Pyrus form to read: set PYRUS_LOGIN and PYRUS_SECURITY_KEY (and "
            "PYRUS_FORM_IDS or --from-form), or run `kb refresh --only extract` first"
        )
    return forms, "raw.pyrus_forms"


@taxonomy_app.command("init")
def taxonomy_init(
    from_form: Annotated[
        int | None, typer.Option(help="Form id (default: every form in PYRUS_FORM_IDS).")
    ] = None,
    seed: Annotated[
        Path | None,
        typer.Option(help="categories.csv to write (default: the seed categorize reads)."),
    ] = None,
) -> None:
    """Write the category seed from the form's «Категория» choices (+ `other`).

    `sla_policy.csv` beside the seed is kept valid: rows of removed categories go, `*`
    default rows cover the new ones.
    """
    from assistant.categorization.taxonomy import TaxonomyError
    from assistant.categorization.taxonomy import load_taxonomy as load
    from assistant.categorization.taxonomy_check import load_field_roles
    from assistant.categorization.taxonomy_init import form_choices, plan_taxonomy, write_seeds

    seed_path = seed or _seed_path()
    forms, origin = _forms(_runtime(), from_form)
    roles = load_field_roles()
    choices = [choice for form in forms for choice in form_choices(form, roles.codes, roles.names)]
    try:
        current = load(seed_path) if seed_path.exists() else None
    except TaxonomyError:
        current = None  # a broken seed is replaced wholesale
    plan = plan_taxonomy(choices, current)
    written = write_seeds(plan, seed_path, seed_path.parent / "sla_policy.csv")
    typer.echo(
        f"{len(choices)} choice(s) from {len(forms)} form(s) via {origin} → "
        f"{len(plan.categories)} categories, taxonomy version {plan.version}"
        + ("" if plan.changed else " (unchanged)")
    )
    if plan.added:
        typer.echo("added: " + ", ".join(plan.added))
    if plan.removed:
        typer.echo("removed: " + ", ".join(plan.removed))
    for path in written:
        typer.echo(f"wrote {path}")
    if plan.changed:
        typer.echo("next: `kb refresh` (dbt reloads the seeds; categorize retrains)")


@taxonomy_app.command("check")
def taxonomy_check() -> None:
    """List form choices and staff labels that map to no category, with counts."""
    from assistant.categorization.taxonomy import load_taxonomy
    from assistant.categorization.taxonomy_check import check_database
    from assistant.db import connect

    runtime = _runtime()
    taxonomy = load_taxonomy(_seed_path())
    with connect(runtime.database_url(), autocommit=True) as conn:
        checked = check_database(conn, taxonomy)
    labelled = sum(checked.mapped_label_counts.values())
    typer.echo(
        f"taxonomy {taxonomy.version}: {len(taxonomy.categories)} categories; "
        f"{labelled} staff-labelled ticket(s) in {checked.usable_categories} usable categor(ies)"
    )
    if not checked.unmapped:
        typer.echo("every form choice and staff label maps to a category")
        return
    typer.echo(f"{len(checked.unmapped)} value(s) map to no category (counted as 'other'):")
    for value in checked.unmapped:
        count = f"{value.count} ticket(s)" if value.source == "labels" else "form choice"
        typer.echo(f"  {value.name}  [{count}]")
    typer.echo("fix: `kb taxonomy init` builds the seed from the Pyrus form")
    raise typer.Exit(code=1)
