"""Historical tickets as GET /tasks/{id} `task` objects, cut at the dataset's "now".

Comment ids are assigned globally in time order (as Pyrus does), after every thread is
written, so ids and timestamps agree across tasks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sample_data.gen.calendar import business_minutes
from sample_data.gen.content import Archetype, Category
from sample_data.gen.form import FORM_ID, FORM_NAME, task_fields
from sample_data.gen.people import customers, staff
from sample_data.gen.plan import DAY2_CUTOFF, ROLLOUT_DATE, plan_tickets
from sample_data.gen.story import Story, build_story
from sample_data.gen.thread import Event, ThreadContext

FIRST_COMMENT_ID = 1301550007
STUCK_TICKETS = 14
STUCK_WINDOW = timedelta(days=21)


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with a `Z`, seconds precision, as in the Pyrus samples."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class History:
    """The generated history: stories (with truncated events) and task payloads."""

    stories: list[Story]
    tasks: list[dict[str, Any]]


def build_history(
    archetypes: list[Archetype],
    common: dict[str, Any],
    categories: list[Category],
    sources: dict[str, list[tuple[datetime, str]]],
    rng: random.Random,
) -> History:
    """Plan, write, cut and serialise every historical ticket."""
    team = staff()
    plans = plan_tickets(archetypes, customers(common, rng), rng)
    recent = [
        p
        for p in plans
        if DAY2_CUTOFF - STUCK_WINDOW < p.created_at < DAY2_CUTOFF - timedelta(days=3)
    ]
    stuck = {p.task_id for p in rng.sample(recent, min(STUCK_TICKETS, len(recent)))}
    ctx = ThreadContext(common, categories, team, rng, similar={}, sources=sources)
    stories = []
    for plan in plans:
        story = build_story(ctx, plan, plan.task_id in stuck)
        story.events = [e for e in story.events if e.at <= DAY2_CUTOFF]
        stories.append(story)
        if story.resolution:
            ctx.similar.setdefault(plan.archetype.key, []).append(plan.task_id)
    ids = _comment_ids(stories, rng)
    tasks = [_task_payload(story, ids) for story in stories]
    return History(stories, tasks)


def _comment_ids(stories: list[Story], rng: random.Random) -> dict[tuple[int, int], int]:
    order = sorted(
        (event.at, story.plan.task_id, index)
        for story in stories
        for index, event in enumerate(story.events)
    )
    ids = {}
    next_id = FIRST_COMMENT_ID
    for _at, task_id, index in order:
        next_id += rng.randint(3, 180)
        ids[(task_id, index)] = next_id
    return ids


def _comment(event: Event, comment_id: int, reply_note_id: int | None) -> dict[str, Any]:
    comment: dict[str, Any] = {"id": comment_id, "create_date": iso(event.at)}
    if event.text:
        comment["text"] = event.text
    comment["author"] = event.author
    if event.mentions:
        comment["mentions"] = [p["id"] for p in event.mentions]
        comment["subscribers_added"] = list(event.mentions)
    if event.channel:
        comment["channel"] = event.channel
    if reply_note_id is not None:
        comment["reply_note_id"] = reply_note_id
    if event.field_updates:
        comment["field_updates"] = event.field_updates
    if event.action:
        comment["action"] = event.action
    if event.spent_minutes is not None:
        comment["spent_minutes"] = event.spent_minutes
    return comment


def _task_payload(story: Story, ids: dict[tuple[int, int], int]) -> dict[str, Any]:
    plan = story.plan
    comments = []
    current: dict[int, Any] = {}
    closed_at: datetime | None = None
    answered = False
    for index, event in enumerate(story.events):
        reply_id = ids[(plan.task_id, event.reply_to)] if event.reply_to is not None else None
        comments.append(_comment(event, ids[(plan.task_id, index)], reply_id))
        for update in event.field_updates or []:
            current[update["id"]] = update["value"]
        if event.action == "finished":
            closed_at = event.at
        elif event.action == "reopened":
            closed_at = None
        if event.channel and "to" in event.channel:
            answered = True
    task: dict[str, Any] = {
        "id": plan.task_id,
        "text": f"{FORM_NAME}: {story.subject}",
        "create_date": iso(plan.created_at),
        "last_modified_date": iso(story.events[-1].at),
    }
    if closed_at is not None:
        task["close_date"] = iso(closed_at)
    task.update(
        {
            "author": plan.customer.person,
            "responsible": story.responsible.person,
            "form_id": FORM_ID,
            "current_step": 2 if answered else 1,
            "is_closed": closed_at is not None,
            "last_note_id": comments[-1]["id"],
            "fields": task_fields(current),
            "comments": comments,
        }
    )
    return task


def realised_effect(tasks: list[dict[str, Any]], arms: dict[int, str]) -> dict[str, Any]:
    """Median business-minute FRT per arm after rollout, measured from the payloads."""
    staff_ids = {s.person["id"] for s in staff()}
    frt: dict[str, list[float]] = {"treatment": [], "holdout": [], "pre_rollout": []}
    for task in tasks:
        created = datetime.fromisoformat(task["create_date"].replace("Z", "+00:00"))
        for comment in task["comments"]:
            channel = comment.get("channel") or {}
            if comment["author"]["id"] in staff_ids and "to" in channel:
                at = datetime.fromisoformat(comment["create_date"].replace("Z", "+00:00"))
                frt[arms[task["id"]]].append(business_minutes(created, at))
                break
    med = {arm: round(median(values), 2) for arm, values in frt.items() if values}
    change = round(med["treatment"] / med["holdout"] - 1.0, 4)
    return {
        "median_frt_bm": med,
        "answered": {arm: len(values) for arm, values in frt.items()},
        "realised_relative_change": change,
        "rollout_date": ROLLOUT_DATE.isoformat(),
    }
