"""Deterministic treatment / holdout assignment for the assistant's shadow arm.

The arm is a pure function of the task id, so the bot, a replay of history and the
sample-data generator all agree without sharing state, and a redelivered webhook
lands in the same arm. Changing the salt re-randomises every ticket: don't.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Arm = Literal["treatment", "holdout"]
ARM_SALT = "kb-assistant-arm-v1"


def arm_unit_value(task_id: int) -> float:
    """A uniform number in [0, 1) derived from the task id."""
    digest = hashlib.sha256(f"{ARM_SALT}:{task_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_arm(task_id: int, holdout_share: float) -> Arm:
    """`holdout` for about `holdout_share` of task ids, `treatment` for the rest."""
    return "holdout" if arm_unit_value(task_id) < holdout_share else "treatment"
