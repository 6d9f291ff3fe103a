"""What both emulators share: a request log, injectable faults and a rate limiter.

Tests drive these objects directly from Python (the server runs in a thread of the same
process), so a client's retry, back-off and timeout code meets the failures it will meet
in production: 5xx bursts, slow answers, truncated bodies and 429s.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator saw it."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    user: str | None = None


@dataclass
class Fault:
    """What to do to the next matching response."""

    status: int | None = None  # replace the answer with this 5xx
    delay: float = 0.0  # sleep before answering (client timeouts)
    truncate: bool = False  # cut the JSON body in half
    path_prefix: str = ""  # only requests whose path starts with this
    apply_after: float = 0.0  # a write lands this long after it arrived (answer: `delay`)


@dataclass
class RequestLog:
    """Thread-safe list of everything the emulator answered, for counting in tests."""

    entries: list[RecordedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, entry: RecordedRequest) -> None:
        with self._lock:
            self.entries.append(entry)

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """How many requests matched (method case-insensitive, path by prefix)."""
        with self._lock:
            return sum(
                1
                for e in self.entries
                if (method is None or e.method == method.upper()) and e.path.startswith(path_prefix)
            )

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()


class Faults:
    """A queue of faults; each request consumes at most one matching fault."""

    def __init__(self) -> None:
        self._queue: list[Fault] = []
        self._lock = threading.Lock()

    def fail_next(self, n: int = 1, status: int = 500, path_prefix: str = "") -> None:
        """The next `n` matching requests get `status` (a 5xx) instead of an answer."""
        self._push(n, Fault(status=status, path_prefix=path_prefix))

    def delay_next(self, n: int = 1, seconds: float = 1.0, path_prefix: str = "") -> None:
        """The next `n` matching requests are answered after `seconds`."""
        self._push(n, Fault(delay=seconds, path_prefix=path_prefix))

    def apply_late_next(
        self, n: int = 1, *, apply_after: float, answer_after: float, path_prefix: str = ""
    ) -> None:
        """The next `n` matching writes are applied `apply_after` seconds after they arrived
        and answered after `answer_after`: a client that timed out meanwhile finds nothing
        when it looks at once, and the write shows up later (a slow Pyrus backend).
        """
        self._push(n, Fault(delay=answer_after, apply_after=apply_after, path_prefix=path_prefix))

    def truncate_next(self, n: int = 1, path_prefix: str = "") -> None:
        """The next `n` matching requests get a 200 with half a JSON body."""
        self._push(n, Fault(truncate=True, path_prefix=path_prefix))

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def _push(self, n: int, fault: Fault) -> None:
        with self._lock:
            self._queue.extend(Fault(**vars(fault)) for _ in range(n))

    def take(self, path: str) -> Fault | None:
        """Pop the first fault that applies to `path`, if any."""
        with self._lock:
            for index, fault in enumerate(self._queue):
                if path.startswith(fault.path_prefix):
                    return self._queue.pop(index)
        return None


class RateLimiter:
    """A fixed window per key (Pyrus: 5,000 requests per 10 minutes per user).

    `limit=None` disables limiting. Windows run on real (monotonic) time, not on the
    emulated clock: rate limits are about the client's pace, not the story's calendar.
    """

    def __init__(self, limit: int | None = None, window_seconds: float = 600.0) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> tuple[bool, int, int]:
        """Count one request: (allowed, remaining, seconds until the window resets)."""
        now = time.monotonic()
        with self._lock:
            started, used = self._windows.get(key, (now, 0))
            if now - started >= self.window_seconds:
                started, used = now, 0
            reset = max(1, round(self.window_seconds - (now - started)))
            if self.limit is None:
                return True, 1 << 30, reset
            if used >= self.limit:
                self._windows[key] = (started, used)
                return False, 0, reset
            used += 1
            self._windows[key] = (started, used)
            return True, self.limit - used, reset

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()


def apply_fault_request(faults: Faults, body: dict[str, object]) -> int:
    """The `POST /_emulator/faults` hook, for clients in another process (`kb sandbox`).

    Body: `{"fail": n, "status": 503, "delay": seconds, "truncate": n, "path_prefix": "/v4"}`
    (`delay` applies to `n` = `count`, default 1); `{"apply_late": n, "apply_after": s,
    "answer_after": s}` queues late writes. Returns how many faults are queued.
    """
    prefix = str(body.get("path_prefix", ""))
    if body.get("apply_late"):
        faults.apply_late_next(
            int(str(body["apply_late"])),
            apply_after=float(str(body.get("apply_after", 2.0))),
            answer_after=float(str(body.get("answer_after", 0.0))),
            path_prefix=prefix,
        )
    if body.get("fail"):
        faults.fail_next(int(str(body["fail"])), int(str(body.get("status", 500))), prefix)
    if body.get("delay"):
        faults.delay_next(int(str(body.get("count", 1))), float(str(body["delay"])), prefix)
    if body.get("truncate"):
        faults.truncate_next(int(str(body["truncate"])), prefix)
    if body.get("clear"):
        faults.clear()
    return faults.pending()
