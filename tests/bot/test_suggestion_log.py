"""The suggestion log also logs the ticket's category through the categorizer's own log."""

from __future__ import annotations

import dataclasses

import pytest

from assistant.bot.models import Suggestion
from assistant.bot.suggestion_log import record_category
from assistant.categorization.policy import CategoryDecision
from assistant.db import connect

pytestmark = pytest.mark.db


def test_the_category_decision_is_logged_once_per_ticket(database_url: str) -> None:
    decision = CategoryDecision("licenses_billing", 0.9, "classifier", "t1", "m1", False)
    suggestion = Suggestion(
        mode="no_match",
        steps=[],
        draft_reply="",
        sources=[],
        similar_tickets=[],
        category_decision=decision,
    )
    undecided = dataclasses.replace(suggestion, category_decision=None)
    with connect(database_url, autocommit=True) as conn:
        record_category(conn, 201_800_001, suggestion)
        record_category(conn, 201_800_001, suggestion)  # a rerun of the same ticket
        record_category(conn, 201_800_002, undecided)  # no categorizer: nothing to log
        rows = conn.execute(
            "select ticket_id, category_code, method from kb.ticket_categories"
            " where ticket_id in (201800001, 201800002)"
        ).fetchall()
    assert rows == [(201_800_001, "licenses_billing", "classifier")]
