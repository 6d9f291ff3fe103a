"""The effect report's inputs (rows the loaders fill) and shared display constants."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from assistant.effect.labels import Labels
from assistant.effect.stats import Estimate

# A weekly median of fewer tickets swings by hours (one slow ticket is a "spike"): such
# weeks are pooled with their neighbours (assistant/effect/weekly.py).
MIN_WEEKLY_TICKETS = 10
ARMS = ("pre_rollout", "treatment", "holdout")
ARM_COLORS = {"pre_rollout": "#7f7f7f", "treatment": "#2e75b6", "holdout": "#c55a11"}
USAGE_LABELS = {
    "accepted": "принят как есть",
    "edited": "отредактирован",
    "ignored": "не использован",
    "not_exposed": "опоздал",
    "no_reply_yet": "нет ответа",
}


# A row of kb.effect_estimates is exactly what the estimators produce.
EffectRow = Estimate


@dataclass(frozen=True)
class WeeklyPoint:
    """The median first response of an arm's tickets in `week` … `last_week` (None: one week)."""

    week: date
    arm: str
    median_frt_bm: float
    tickets: int
    last_week: date | None = None

    @property
    def pooled(self) -> bool:
        return self.last_week is not None and self.last_week != self.week

    @property
    def middle(self) -> date:
        """Where the point is drawn: the middle of its weeks."""
        return self.week + ((self.last_week or self.week) - self.week) / 2


@dataclass(frozen=True)
class GapRow:
    week: date
    category: str
    tickets_without_good_match: int


@dataclass(frozen=True)
class GapDocument:
    """A document staff used that the bot missed (marts.kb_gap_documents), ranked."""

    title: str
    url: str | None
    tickets_missed: int
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Period:
    """What the data covers (Moscow dates) and when the assistant was switched on."""

    first_day: date
    last_day: date
    rollout_day: date


@dataclass(frozen=True)
class WeekCount:
    """Answered tickets of both post-rollout arms created in a (complete) week."""

    week: date
    tickets: int


@dataclass(frozen=True)
class AdoptionWeek:
    """Drafts of a week by how staff used them (accepted, edited, ignored)."""

    week: date
    accepted: int
    edited: int
    ignored: int

    @property
    def used(self) -> int:
        return self.accepted + self.edited

    @property
    def judged(self) -> int:
        return self.accepted + self.edited + self.ignored


@dataclass(frozen=True)
class ArmRow:
    """One raw comparison from the effect_arm_comparison mart (segment ALL)."""

    metric: str
    comparison: str
    statistic: str  # median | rate
    n_control: int
    n_treated: int
    control_value: float | None
    treated_value: float | None


@dataclass
class ReportData:
    generated_at: datetime
    effects: list[EffectRow] = field(default_factory=list)
    weekly: list[WeeklyPoint] = field(default_factory=list)
    gaps: list[GapRow] = field(default_factory=list)
    planted_effect: float | None = None
    arm_rows: list[ArmRow] = field(default_factory=list)
    feedback_counts: dict[str, int] = field(default_factory=dict)
    labels: Labels | None = None  # None: read the seeds (load_labels)
    retrieval_section: str = ""  # assistant/effect/retrieval_quality.py renders it
    period: Period | None = None
    weekly_volume: list[WeekCount] = field(default_factory=list)
    adoption: list[AdoptionWeek] = field(default_factory=list)
    gap_documents: list[GapDocument] = field(default_factory=list)
    # More sections (an HTML fragment each, starting with its <h2>), shown before the
    # "how to read" notes: a module that owns a topic renders its own section and the
    # loader appends it here (assistant/effect/report_data.py: load_report_data).
    extra_sections: list[str] = field(default_factory=list)
