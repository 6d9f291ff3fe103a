"""Moving extract watermarks back for a backfill (`kb-backfill since=…`)."""

from __future__ import annotations

from datetime import UTC, datetime

from assistant.db import connect


def rewind_watermarks(database_url: str, since: str) -> int:
    """Set every watermark later than `since` back to it; returns how many moved.

    Loads are idempotent upserts, so re-reading from an earlier point never duplicates.
    """
    moment = datetime.fromisoformat(since)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    with connect(database_url) as conn:
        cursor = conn.execute(
            "update raw.sync_state set watermark = %s, updated_at = now() where watermark > %s",
            (moment, moment),
        )
        conn.commit()
        return cursor.rowcount
