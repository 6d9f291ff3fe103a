"""Imports run one way: core ← llm, sources ← knowledge, categorization ← bot ← effect.

Flows sit on top of all of them. Read from the source with `ast` (every `import`,
including ones inside functions), so a lazy import cannot hide a cycle. `assistant`
never imports `flows` or Prefect: the product's brain must stay importable (and fast)
without the orchestration layer. No two modules of `assistant` import each other,
however indirectly, and inside `knowledge/` the phases run one way too: text ← embedders
← index ← search ← evaluation ← learning.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# a package may import itself and packages of a lower rank, never a sibling of equal rank;
# "core" is every module directly under assistant/
RANK = {
    "core": 0,
    "llm": 1,
    "sources": 1,
    "knowledge": 2,
    "categorization": 2,
    "bot": 3,
    "effect": 4,
}
# narrower doors: effect reaches the bot only through the deterministic arm assignment
DOORS = {("effect", "bot"): "assistant.bot.arms"}
FORBIDDEN_ROOTS = ("flows", "prefect")
# inside assistant/knowledge: a phase imports itself and lower phases only ("text" is
# every module directly under knowledge/)
PHASES = {"text": 0, "embedders": 1, "index": 2, "search": 3, "evaluation": 4, "learning": 5}


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


def module_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """assistant module → the assistant modules it imports (at any depth in the file)."""
    files = {
        ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): path
        for path in (root / "assistant").rglob("*.py")
    }
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        for _, target in imported_modules(path, root):
            while target and target not in files:  # `from pkg.mod import name` → pkg.mod
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def phase_of(module: str) -> str | None:
    """The knowledge phase of a module name (None outside assistant.knowledge)."""
    parts = module.split(".")
    if parts[:2] != ["assistant", "knowledge"]:
        return None
    if len(parts) < 3:  # the package itself
        return None
    return parts[2] if parts[2] in PHASES else "text"


def phase_violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        own = phase_of(module)
        for target in sorted(targets):
            other = phase_of(target)
            if own is None or other is None or own == other or other not in PHASES:
                continue
            if own in PHASES and PHASES[other] > PHASES[own]:
                found.append(f"{module} imports {target} ({own} may not import {other})")
    return found


# Circles known and being removed, each listed so the test guards everything else; none
# is left (`Suggestion` lives in bot/models.py). An entry fails once its circle is gone.
KNOWN_CYCLES: list[list[str]] = []


def test_no_import_circles_inside_assistant() -> None:
    found = cycles(module_graph())
    assert [group for group in found if group not in KNOWN_CYCLES] == []
    assert [group for group in KNOWN_CYCLES if group not in found] == [], "delete the entry"


def test_knowledge_phases_run_one_way() -> None:
    assert phase_violations(module_graph()) == []


def test_a_lazy_circle_is_caught(tmp_path: Path) -> None:
    package = tmp_path / "assistant" / "knowledge" / "search"
    package.mkdir(parents=True)
    (package / "a.py").write_text("from assistant.knowledge.search.b import f\n", "utf-8")
    (package / "b.py").write_text(
        "def f():\n    from assistant.knowledge.search import a\n", "utf-8"
    )
    assert cycles(module_graph(tmp_path)) == [
        ["assistant.knowledge.search.a", "assistant.knowledge.search.b"]
    ]


def test_a_phase_importing_a_later_one_is_caught(tmp_path: Path) -> None:
    index = tmp_path / "assistant" / "knowledge" / "index"
    index.mkdir(parents=True)
    (index / "x.py").write_text("from assistant.knowledge.learning.tuning import tune\n")
    learning = tmp_path / "assistant" / "knowledge" / "learning"
    learning.mkdir()
    (learning / "tuning.py").write_text("from assistant.knowledge.index import x\n")
    graph = module_graph(tmp_path)
    assert phase_violations(graph) == [
        "assistant.knowledge.index.x imports assistant.knowledge.learning.tuning "
        "(index may not import learning)"
    ]


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
