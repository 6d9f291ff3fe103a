"""The one retry policy (`assistant/sources/http.py`) in the shapes the bot configures it.

The extract's side of the policy is covered through `PyrusClient` in test_pyrus.py; here:
a non-idempotent request is never sent twice once it may have left, a deadline bounds
the whole call, and a status left out of `retry_statuses` goes back to the caller.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import httpx
import pytest

from assistant.sources.http import (
    RETRYABLE_STATUSES,
    OutcomeUnknown,
    RequestStats,
    RetryableError,
    RetryPolicy,
    send,
)

URL = "https://api.pyrus.test/v4/tasks/1/comments"


def post(
    answers: list[Callable[[httpx.Request], httpx.Response]],
    *,
    idempotent: bool,
    policy: RetryPolicy | None = None,
    deadline: float = math.inf,
) -> tuple[list[httpx.Request], list[float], object]:
    """POST once through `send` against scripted answers; (requests, sleeps, outcome)."""
    requests: list[httpx.Request] = []
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return answers[min(len(requests), len(answers)) - 1](request)

    policy = policy or RetryPolicy(max_attempts=4, sleep=sleeps.append)
    policy.sleep = sleeps.append
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        try:
            _, outcome = send(
                client, "POST", URL, policy=policy, stats=RequestStats(), kind="comment",
                idempotent=idempotent, deadline=deadline, timeout=5.0, json={"text": "x"},
            )  # fmt: skip
        except Exception as exc:  # the outcome under test
            outcome = exc
    return requests, sleeps, outcome


def ok(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"task": {"id": 1}})


def unavailable(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, headers={"Retry-After": "2"})


def read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("no answer", request=request)


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


@pytest.mark.parametrize(
    "failure",
    [unavailable, read_timeout, lambda r: httpx.Response(200, content=b'{"task": {"id"')],
    ids=["503", "read-timeout", "2xx-truncated"],
)
def test_a_post_that_may_have_left_is_sent_once(
    failure: Callable[[httpx.Request], httpx.Response],
) -> None:
    requests, sleeps, outcome = post([failure, ok], idempotent=False)
    assert isinstance(outcome, OutcomeUnknown)
    assert not isinstance(outcome, RetryableError)  # a Prefect step must not resend it
    assert len(requests) == 1
    assert sleeps == []


def test_a_post_that_never_left_is_retried() -> None:
    requests, sleeps, outcome = post([refused, ok], idempotent=False)
    assert outcome == {"task": {"id": 1}}
    assert len(requests) == 2
    assert len(sleeps) == 1


def test_an_idempotent_call_waits_out_a_503_as_told() -> None:
    requests, sleeps, outcome = post([unavailable, ok], idempotent=True)
    assert outcome == {"task": {"id": 1}}
    assert len(requests) == 2
    assert sleeps == [2.0]  # Retry-After wins over the backoff


def test_a_status_left_out_of_the_policy_comes_back_unretried() -> None:
    policy = RetryPolicy(max_attempts=4, retry_statuses=RETRYABLE_STATUSES - {429})
    limited = lambda r: httpx.Response(429, headers={"Retry-After": "7"})  # noqa: E731
    requests, sleeps, outcome = post([limited, ok], idempotent=True, policy=policy)
    assert outcome is None  # the caller reads the 429 response itself
    assert len(requests) == 1
    assert sleeps == []


def test_the_deadline_cuts_sleeps_and_stops_the_retries() -> None:
    deadline = time.monotonic() + 0.2
    policy = RetryPolicy(max_attempts=6, base_delay=10.0, jitter=0.0)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        assert request.extensions["timeout"]["read"] <= 0.2  # each try fits the deadline
        return httpx.Response(502)

    policy.sleep = sleep
    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as client,
        pytest.raises(RetryableError, match="deadline passed"),
    ):
        send(
            client, "GET", URL, policy=policy, stats=RequestStats(), kind="task",
            deadline=deadline, timeout=15.0,
        )  # fmt: skip
    assert len(requests) == 1
    assert len(slept) == 1
    assert slept[0] <= 0.2  # not the 10 s backoff
