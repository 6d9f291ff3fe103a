from assistant.bot.arms import arm_unit_value, assign_arm


def test_assignment_is_deterministic_and_near_the_share() -> None:
    arms = [assign_arm(task_id, 0.2) for task_id in range(100_000, 110_000)]
    assert arms == [assign_arm(task_id, 0.2) for task_id in range(100_000, 110_000)]
    share = arms.count("holdout") / len(arms)
    assert 0.18 < share < 0.22


def test_edges() -> None:
    assert assign_arm(42, 0.0) == "treatment"
    assert assign_arm(42, 1.0) == "holdout"
    assert 0.0 <= arm_unit_value(42) < 1.0
