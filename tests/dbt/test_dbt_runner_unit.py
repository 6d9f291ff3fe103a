"""How dbt's per-node results become a summary and an error (no database needed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from flows import dbt_runner


def _result(kind: str, name: str, status: str, message: str = "") -> SimpleNamespace:
    node = SimpleNamespace(resource_type=SimpleNamespace(value=kind), name=name)
    return SimpleNamespace(node=node, status=SimpleNamespace(value=status), message=message)


def test_summary_counts_each_outcome() -> None:
    summary = dbt_runner.summarise(
        "dbt build",
        [
            _result("seed", "categories", "success"),
            _result("model", "fct_tickets", "success"),
            _result("model", "kb_documents", "error", 'relation "x" does not exist'),
            _result("test", "unique_fct_tickets_ticket_id", "pass"),
            _result("test", "assert_tickets__first_response_after_created", "fail"),
            _result("test", "assert_pyrus_tasks__category_choice_mapped", "warn"),
            _result("test", "not_null_kb_documents_body", "skipped"),
        ],
        success=False,
    )
    assert summary.counts() == {
        "seeds loaded": 1,
        "models built": 1,
        "models failed": 1,
        "tests passed": 1,
        "tests failed": 1,
        "tests errored": 0,
        "tests warned": 1,
        "skipped": 1,
    }
    assert summary.failing_tests == ["assert_tickets__first_response_after_created"]
    assert summary.brief()["warning_tests"] == "assert_pyrus_tasks__category_choice_mapped"


def test_failing_tests_raise_with_their_names() -> None:
    summary = dbt_runner.summarise(
        "dbt build",
        [
            _result("test", "assert_a", "fail"),
            _result("test", "assert_b", "error", "column does not exist"),
        ],
        success=False,
    )
    with pytest.raises(dbt_runner.DbtTestFailure, match="assert_a, assert_b") as caught:
        dbt_runner.raise_for_failures(summary)
    assert caught.value.failing_tests == ["assert_a", "assert_b"]


def test_failed_model_raises_run_error_naming_it() -> None:
    summary = dbt_runner.summarise(
        "dbt build",
        [_result("model", "kb_documents", "error", "syntax error at or near\n  ')'")],
        success=False,
    )
    with pytest.raises(dbt_runner.DbtRunError, match="model kb_documents: syntax error"):
        dbt_runner.raise_for_failures(summary)


def test_green_summary_does_not_raise() -> None:
    summary = dbt_runner.summarise("dbt build", [_result("model", "m", "success")], True)
    dbt_runner.raise_for_failures(summary)
    assert summary.models_built == ["m"]
