"""Imports run one way: core ← knowledge, categorization ← bot ← effect; flows on top.

Read from the source with `ast` (every `import`, including ones inside functions), so a
lazy import cannot hide a cycle. `assistant` never imports `flows` or Prefect: the
product's brain must stay importable (and fast) without the orchestration layer.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# a package may import itself and packages of a lower rank, never a sibling of equal rank;
# "core" is every module directly under assistant/
RANK = {"core": 0, "llm": 1, "knowledge": 2, "categorization": 2, "bot": 3, "effect": 4}
# narrower doors: effect reaches the bot only through the deterministic arm assignment
DOORS = {("effect", "bot"): "assistant.bot.arms"}
FORBIDDEN_ROOTS = ("flows", "prefect")


def imported_modules(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in a file, at any depth."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = parts[: len(parts) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:  # `from assistant.bot import x` may name a module
                yield node.lineno, f"{base}.{alias.name}"


def layer_of(module: str) -> str | None:
    """The layer of an `assistant.*` module name (None outside assistant)."""
    parts = module.split(".")
    if parts[0] != "assistant":
        return None
    if len(parts) > 1 and parts[1] in RANK:
        return parts[1]
    return "core"


def violations(root: Path = ROOT) -> list[str]:
    """Every import under `root/assistant` that runs the wrong way, as `file:line …`."""
    found: list[str] = []
    for path in sorted((root / "assistant").rglob("*.py")):
        own = layer_of(".".join(path.relative_to(root).with_suffix("").parts))
        assert own is not None
        for line, target in imported_modules(path, root):
            where = f"{path.relative_to(root)}:{line} imports {target}"
            if target.split(".")[0] in FORBIDDEN_ROOTS:
                found.append(f"{where} (assistant never imports flows or Prefect)")
                continue
            other = layer_of(target)
            if other is None or other == own:
                continue
            if RANK[other] >= RANK[own]:
                found.append(f"{where} ({own} may not import {other})")
                continue
            door = DOORS.get((own, other))
            if door is not None and not (target == door or target.startswith(door + ".")):
                found.append(f"{where} ({own} reaches {other} only through {door})")
    return found


def test_assistant_imports_run_one_way() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        ("knowledge/x.py", "def f():\n    from assistant.bot.suggest import Suggester\n", "bot"),
        ("core_mod.py", "import assistant.knowledge.index.store\n", "knowledge"),
        ("effect/x.py", "from assistant.bot import pipeline\n", "bot"),
        ("bot/x.py", "def f():\n    import prefect\n", "Prefect"),
        ("llm/x.py", "from flows.runtime import Runtime\n", "flows"),
        ("categorization/x.py", "from ..bot.arms import assign_arm\n", "bot"),
    ],
)
def test_a_wrong_way_import_is_caught(
    tmp_path: Path, relative: str, source: str, expected: str
) -> None:
    target = tmp_path / "assistant" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source, "utf-8")
    found = violations(tmp_path)
    assert len(found) == 1, found
    assert expected in found[0]


def test_effect_may_use_the_arms_module_and_lower_layers(tmp_path: Path) -> None:
    target = tmp_path / "assistant" / "effect" / "x.py"
    target.parent.mkdir(parents=True)
    target.write_text(
        "from assistant.bot.arms import assign_arm\nfrom assistant.knowledge.index import store\n"
        "from . import y\nimport json\n",
        "utf-8",
    )
    assert violations(tmp_path) == []
