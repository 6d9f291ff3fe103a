"""The committed sample dataset: reproducible, API-shaped, and carrying the planted effect."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import pytest
import yaml
from pyrus.models.responses import FormResponse, MembersResponse, TaskResponse

from assistant.bot.arms import assign_arm
from sample_data.generate import DATASET_DIR, generate

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "sample_data" / "content"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MSK = timedelta(hours=3)


def _load(name: str) -> Any:
    return json.loads((DATASET_DIR / name).read_text(encoding="utf-8"))


def _jsonl(name: str) -> list[dict[str, Any]]:
    lines = (DATASET_DIR / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def tasks() -> list[dict[str, Any]]:
    return _jsonl("pyrus_tasks.jsonl")


@pytest.fixture(scope="module")
def metadata() -> dict[str, Any]:
    return _load("metadata.json")


def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    generate(tmp_path)
    committed = sorted(p.relative_to(DATASET_DIR) for p in DATASET_DIR.rglob("*") if p.is_file())
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert fresh == committed
    for rel in committed:
        assert (tmp_path / rel).read_bytes() == (DATASET_DIR / rel).read_bytes(), rel


def test_payloads_parse_with_official_client(tasks: list[dict[str, Any]]) -> None:
    form = FormResponse(**_load("pyrus_form.json"))
    assert form.id == _load("metadata.json")["form_id"]
    assert {f.name for f in form.fields} >= {"Тема", "Категория", "Черновик ответа"}
    members = MembersResponse(**_load("pyrus_members.json"))
    assert any(m.type == "bot" for m in members.members)
    for task in tasks:
        parsed = TaskResponse(task=task).task
        assert parsed.id == task["id"]
        assert len(parsed.comments) == len(task["comments"])


def test_volume_and_span(tasks: list[dict[str, Any]], metadata: dict[str, Any]) -> None:
    assert len(tasks) >= 1000
    created = sorted(_ts(t["create_date"]) for t in tasks)
    assert created[-1] - created[0] >= timedelta(days=270)
    assert metadata["counts"]["tickets"] == len(tasks)
    assert len({t["id"] for t in tasks}) == len(tasks)


def test_taxonomy_and_archetypes() -> None:
    import csv

    seed = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "categories.csv"
    rows = list(csv.DictReader(seed.open(encoding="utf-8")))
    assert len(rows) >= 13
    assert {r["taxonomy_version"] for r in rows} == {"2026.1"}
    catalog = yaml.safe_load((CONTENT / "archetypes.yaml").read_text(encoding="utf-8"))
    per_category = Counter(a["category"] for a in catalog["archetypes"])
    for row in rows:
        assert per_category[row["category_code"]] >= (4 if row["category_code"] == "other" else 8)


def test_first_comment_carries_all_initial_fields(
    tasks: list[dict[str, Any]], metadata: dict[str, Any]
) -> None:
    ids = metadata["field_ids"]
    required = {ids[k] for k in ("subject", "description", "category", "client", "priority")}
    for task in tasks:
        first = task["comments"][0]
        assert first["create_date"] == task["create_date"]
        assert required <= {u["id"] for u in first["field_updates"]}
        replayed: dict[int, Any] = {}
        for comment in task["comments"]:
            for update in comment.get("field_updates", []):
                replayed[update["id"]] = update["value"]
        current = {f["id"]: f["value"] for f in task["fields"] if "value" in f}
        assert replayed == current, task["id"]


def test_threads_are_ordered_and_timestamps_are_utc(tasks: list[dict[str, Any]]) -> None:
    for task in tasks:
        assert ISO_Z.match(task["create_date"])
        assert ISO_Z.match(task["last_modified_date"])
        dates = [c["create_date"] for c in task["comments"]]
        assert all(ISO_Z.match(d) for d in dates)
        assert dates == sorted(dates)
        ids = [c["id"] for c in task["comments"]]
        assert ids == sorted(ids)
        assert task["last_note_id"] == ids[-1]
        assert task["is_closed"] == ("close_date" in task)


def test_arms_follow_assign_arm(tasks: list[dict[str, Any]], metadata: dict[str, Any]) -> None:
    rollout = metadata["rollout_date"]
    bot_ids = {m["id"] for m in _load("pyrus_members.json")["members"] if m["type"] == "bot"}
    seen = Counter()
    for task in tasks:
        bot_comments = [c for c in task["comments"] if c["author"]["id"] in bot_ids]
        if task["create_date"][:10] < rollout:
            assert not bot_comments
            continue
        arm = assign_arm(task["id"], metadata["holdout_share"])
        seen[arm] += 1
        assert bool(bot_comments) == (arm == "treatment"), task["id"]
        for comment in bot_comments:
            assert comment["text"].startswith("Рекомендация ИИ-помощника")
            assert "channel" not in comment
            delay = _ts(comment["create_date"]) - _ts(task["create_date"])
            assert timedelta(seconds=60) <= delay <= timedelta(seconds=120)
    assert seen["holdout"] >= 50
    assert seen["treatment"] >= 200


def _business_minutes(
    start: datetime, end: datetime, holidays: set[str], shortened: set[str]
) -> float:
    """Independent re-implementation (sum of overlaps with working-day windows)."""
    total = 0.0
    day = (start + MSK).date()
    while day <= (end + MSK).date():
        if day.weekday() < 5 and day.isoformat() not in holidays:
            end_hour = 17 if day.isoformat() in shortened else 18
            w0 = datetime(day.year, day.month, day.day, 9, tzinfo=UTC) - MSK
            w1 = datetime(day.year, day.month, day.day, end_hour, tzinfo=UTC) - MSK
            lo, hi = max(w0, start), min(w1, end)
            total += max((hi - lo).total_seconds(), 0) / 60
        day += timedelta(days=1)
    return total


def test_planted_effect_is_recoverable(
    tasks: list[dict[str, Any]], metadata: dict[str, Any]
) -> None:
    staff = {m["id"] for m in _load("pyrus_members.json")["members"] if m["type"] == "user"}
    holidays = set(metadata["business_hours"]["holidays"])
    shortened = set(metadata["business_hours"]["shortened_days"])
    frt: dict[str, list[float]] = {"treatment": [], "holdout": []}
    for task in tasks:
        if task["create_date"][:10] < metadata["rollout_date"]:
            continue
        reply = next(
            (
                c
                for c in task["comments"]
                if c["author"]["id"] in staff and "to" in c.get("channel", {})
            ),
            None,
        )
        if reply is None:
            continue
        arm = assign_arm(task["id"], metadata["holdout_share"])
        frt[arm].append(
            _business_minutes(
                _ts(task["create_date"]), _ts(reply["create_date"]), holidays, shortened
            )
        )
    change = median(frt["treatment"]) / median(frt["holdout"]) - 1
    assert abs(change - (-0.25)) <= 0.03
    assert abs(change - metadata["planted_effect"]["realised_relative_change"]) < 0.005


def test_open_reopened_and_day_window(
    tasks: list[dict[str, Any]], metadata: dict[str, Any]
) -> None:
    open_count = sum(1 for t in tasks if not t["is_closed"])
    assert 10 <= open_count <= 40
    reopened = [t for t in tasks if any(c.get("action") == "reopened" for c in t["comments"])]
    assert reopened
    day1, day2 = metadata["day1_cutoff"], metadata["day2_cutoff"]
    assert _ts(day2) - _ts(day1) == timedelta(hours=24)
    assert max(c["create_date"] for t in tasks for c in t["comments"]) <= day2
    assert sum(1 for t in tasks if t["create_date"] > day1) >= 5
    changed = [
        t
        for t in tasks
        if t["create_date"] <= day1 and any(c["create_date"] > day1 for c in t["comments"])
    ]
    assert len(changed) >= 3


def test_personal_data_present_in_some_tickets(tasks: list[dict[str, Any]]) -> None:
    patterns = {
        "phone": re.compile(r"\+7 9\d\d \d{3}-\d\d-\d\d"),
        "contract": re.compile(r"договор(?:у)? № \d{4}-ПР-\d{4}", re.IGNORECASE),
        "card": re.compile(r"\b\d{4} \d{4} \d{4} \d{4}\b"),
    }
    texts = [t["comments"][0].get("text", "") for t in tasks]
    for name, pattern in patterns.items():
        hits = sum(1 for text in texts if pattern.search(text))
        assert 3 <= hits < len(tasks) / 4, name


def test_eval_sets(metadata: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
    queries = _jsonl("eval/queries.jsonl")
    corpus_ids = {d["id"] for d in _jsonl("eval/corpus.jsonl")}
    lines = (DATASET_DIR / "eval" / "qrels.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "query-id\tcorpus-id\tscore"
    qrels = [line.split("\t") for line in lines[1:]]
    judged = {q for q, _, _ in qrels}
    assert len(queries) >= 80
    assert {q["id"] for q in queries} <= judged
    assert all(d in corpus_ids and s in {"1", "2", "3"} for _, d, s in qrels)
    history_text = {t["comments"][0].get("text", "") for t in tasks}
    for query in queries:
        body = query["text"].split("\n", 1)[1]
        assert not any(body in text for text in history_text)
    rows = _jsonl("categorize.jsonl")
    assert Counter(r["split"] for r in rows)["test"] == pytest.approx(len(rows) * 0.2, abs=1)
    train_last = max(r["id"] for r in rows if r["split"] == "train")
    assert train_last < min(r["id"] for r in rows if r["split"] == "test")
    fresh = _jsonl("new_tickets.jsonl")
    assert len(fresh) >= 20
    assert {"subject", "description", "category_code", "client", "priority"} <= set(fresh[0])


def test_staff_replies_in_working_hours_and_feedback_only_on_treatment(
    tasks: list[dict[str, Any]], metadata: dict[str, Any]
) -> None:
    members = _load("pyrus_members.json")["members"]
    staff = {m["id"] for m in members if m["type"] == "user"}
    holidays = set(metadata["business_hours"]["holidays"])
    feedback_field = metadata["field_ids"]["assistant_feedback"]
    outside, replies, feedback = 0, 0, Counter()
    for task in tasks:
        for comment in task["comments"]:
            if comment["author"]["id"] in staff and "to" in comment.get("channel", {}):
                replies += 1
                local = _ts(comment["create_date"]) + MSK
                working = local.weekday() < 5 and local.date().isoformat() not in holidays
                outside += not (working and 9 <= local.hour < 18)
        if any(f["id"] == feedback_field and "value" in f for f in task["fields"]):
            before = task["create_date"][:10] < metadata["rollout_date"]
            feedback["pre" if before else assign_arm(task["id"], metadata["holdout_share"])] += 1
    assert outside <= replies * 0.05
    assert feedback["treatment"] >= 50
    assert feedback["holdout"] == 0
    assert feedback["pre"] == 0


def test_confluence_pages_and_page_qrels() -> None:
    pages = _load("confluence_pages.json")
    assert [int(p["id"]) for p in pages] == sorted(int(p["id"]) for p in pages)
    for page in pages:
        assert set(page) == {
            "id",
            "space_key",
            "space_name",
            "ancestors",
            "labels",
            "status",
            "deleted_at",
            "versions",
        }
        numbers = [v["number"] for v in page["versions"]]
        assert numbers == list(range(1, len(numbers) + 1))
        assert all(v["when"].endswith("+03:00") and v["storage"] for v in page["versions"])
        assert all(set(a) == {"id", "title"} for a in page["ancestors"])
    assert any(p["deleted_at"] for p in pages)
    assert any(len(p["versions"]) > 1 for p in pages)
    lines = (DATASET_DIR / "eval" / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]
    main_pages = Counter(
        q
        for q, d, s in (line.split("\t") for line in lines)
        if d.startswith("confluence:") and s == "3"
    )
    queries = _jsonl("eval/queries.jsonl")
    assert all(main_pages[q["id"]] == 1 for q in queries)


def test_calendar_matches_the_dbt_production_calendar(metadata: dict[str, Any]) -> None:
    """dbt measures FRT with its own seed; both calendars must agree for 2026."""
    import csv

    seed = ROOT / "dbt_project" / "seeds" / "ru_production_calendar.csv"
    if not seed.exists():
        pytest.skip("dbt production calendar seed not present")
    rows = [
        r
        for r in csv.DictReader(seed.open(encoding="utf-8"))
        if r["calendar_date"].startswith("2026")
    ]
    weekday_holidays = {
        r["calendar_date"]
        for r in rows
        if r["day_type"] == "holiday" and datetime.fromisoformat(r["calendar_date"]).weekday() < 5
    }
    ours = {
        d for d in metadata["business_hours"]["holidays"] if datetime.fromisoformat(d).weekday() < 5
    }
    assert ours == weekday_holidays
    shortened = {r["calendar_date"] for r in rows if r["day_type"] == "shortened"}
    assert set(metadata["business_hours"]["shortened_days"]) == shortened


def test_draft_usage_agrees_with_feedback(
    tasks: list[dict[str, Any]], metadata: dict[str, Any]
) -> None:
    ids = metadata["field_ids"]
    usage = Counter()
    for task in tasks:
        fields = {f["id"]: f.get("value") for f in task["fields"]}
        draft = fields.get(ids["draft_reply"])
        if not draft:
            continue
        replies = [c.get("text", "") for c in task["comments"] if "to" in c.get("channel", {})]
        as_is = any(text.startswith(draft) for text in replies)
        usage["as_is" if as_is else "changed"] += 1
        feedback = fields.get(ids["assistant_feedback"])
        if as_is and feedback:
            assert feedback["choice_names"] != ["нет"], task["id"]
    assert usage["as_is"] >= 50
    assert usage["changed"] >= 50
