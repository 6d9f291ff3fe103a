"""The shared masking cases (tests/mask_cases.yaml), loaded once for the Python and dbt tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

CASES_FILE = Path(__file__).with_name("mask_cases.yaml")


@dataclass(frozen=True)
class MaskCase:
    text: str
    masked: str  # what assistant/redact produces
    dbt: str  # what the dbt macro produces (= masked unless the file says why not)
    public: bool


def load() -> tuple[list[list[str]], list[MaskCase]]:
    """(public contact rows, cases) from the case file."""
    data = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    cases = [
        MaskCase(
            text=case["text"],
            masked=case["masked"],
            dbt=case.get("dbt", case["masked"]),
            public=bool(case.get("public", False)),
        )
        for case in data["cases"]
    ]
    return [list(map(str, row)) for row in data["public_contacts"]], cases
