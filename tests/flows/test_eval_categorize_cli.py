"""`kb eval categorize`: metrics, JSON output, confusion PNG, clear errors on bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from assistant.categorization.evaluation import (
    EvalDataError,
    EvalReport,
    expected_calibration_error,
    format_report,
    read_labelled_jsonl,
    split_records,
)
from flows.cli import app

FIXTURE = Path(__file__).parents[1] / "categorization" / "fixtures" / "categorize_small.jsonl"
runner = CliRunner()


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """One real CLI run with --json and --png (training is the slow part, so do it once)."""
    png = tmp_path_factory.mktemp("eval") / "out" / "confusion.png"
    result = runner.invoke(
        app, ["eval", "categorize", "--data", str(FIXTURE), "--json", "--png", str(png)]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output), png


def test_png_is_written(cli_run: tuple[dict[str, Any], Path]) -> None:
    assert cli_run[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_output_is_consistent(cli_run: tuple[dict[str, Any], Path]) -> None:
    report = cli_run[0]
    assert (report["n_train"], report["n_test"], report["split"]) == (72, 25, "file")
    confusion = report["confusion"]
    assert sum(map(sum, confusion)) == 25
    correct = sum(confusion[i][i] for i in range(len(confusion)))
    assert report["accuracy"] == pytest.approx(correct / 25)
    per_class = report["per_class"]
    assert set(per_class) == set(report["labels"])
    f1s = [m["f1"] for m in per_class.values() if m["support"] > 0]
    assert report["macro_f1"] == pytest.approx(sum(f1s) / len(f1s))


def test_table_output(cli_run: tuple[dict[str, Any], Path]) -> None:
    table = format_report(EvalReport(**cli_run[0]))
    assert "train 72, test 25 (split: file)" in table
    assert f"macro-F1 {cli_run[0]['macro_f1']:.3f}" in table
    for code in ("forms_fields", "mobile_app", "other"):
        assert code in table


def test_any_file_without_splits_gets_a_stable_split(tmp_path: Path) -> None:
    lines = FIXTURE.read_text("utf-8").splitlines()
    other = tmp_path / "nosplit.jsonl"
    other.write_text(
        "\n".join(
            json.dumps({k: v for k, v in json.loads(line).items() if k != "split"})
            for line in lines
        ),
        "utf-8",
    )
    train, test, how = split_records(read_labelled_jsonl(other))
    assert how == "hash-80/20"
    assert len(train) + len(test) == len(lines)
    assert [r.id for r in test] == [r.id for r in split_records(read_labelled_jsonl(other))[1]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": 1, "text": "x", "label": "a"}\nnot json\n', ":2: not JSON"),
        ('{"id": 1, "text": "x"}\n', "string 'label'"),
        ('{"id": 1, "text": 5, "label": "a"}\n', "'text' must be a string"),
        ("\n\n", "no records"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, "utf-8")
    with pytest.raises(EvalDataError, match=message):
        read_labelled_jsonl(path)


def test_missing_file_exits_non_zero(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "categorize", "--data", str(tmp_path / "no.jsonl")])
    assert result.exit_code != 0
    assert isinstance(result.exception, EvalDataError)


def test_calibration_error() -> None:
    confidence = np.array([0.95, 0.95, 0.55, 0.55])
    assert expected_calibration_error(confidence, np.array([True, True, True, False])) == (
        pytest.approx(0.5 * 0.05 + 0.5 * 0.05)
    )
    assert expected_calibration_error(confidence, np.array([False] * 4)) == pytest.approx(0.75)
