"""Every file the documentation and the code comments cite exists inside the repository.

The repository must stand on its own: a comment that says "see docs/pyrus-api.md §5" or a
README line naming `assistant/knowledge/index/store.py` is only useful if a reader of this checkout
can open that file. Files move (the flat `assistant/` became packages), so this test keeps the
citations honest instead of trusting reviewers to grep.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Documents whose every repository path must resolve (globs must match something).
DOCUMENTS = ("README.md", "dbt_project/README.md", "sample_data/README.md", "docs/*.md")
DOC_PATH = re.compile(
    r"(?<![\w./-])((?:assistant|flows|dbt_project|sample_data|docs|tests|benchmarks)/[\w./*-]*)"
)
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)\)")

# In code, comments and dbt yml: citations of docs and of Python modules by path.
SOURCE_SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".md", ".toml", ".cfg", ".txt", ".sh"}
CODE_PATH = re.compile(r"(?<![\w./-])((?:docs|assistant|flows)/[\w./-]*\.(?:md|py))(?![\w/-])")

# Reference notes that only exist in the docs/ folder: cite them with their path.
NOTE_NAMES = re.compile(
    r"(?<![\w/.-])(pyrus-api|effect-measurement|confluence-api|stack-notes|"
    r"pyrus-support-topics|STYLE)\.md"
)
# Migrations are checksummed and never edited (assistant/migrate.py), so an old
# migration's comment may keep a bare note name (it resolves to docs/ all the same) or the
# path a module had when the migration was written.
IMMUTABLE = ("assistant/migrations/",)

# A file named on its own in backticks (`suggest.py`) must be a file somewhere in the
# repository: after a move, a docstring still saying `rag.py` sends the reader nowhere.
NAMED_FILE = re.compile(r"`([\w-]+\.(?:py|md|sql|yml|csv))`")
NAMED_ON_PURPOSE = {"prompts.py"}  # assistant/llm/prompt.py explains why it is not so named

OUTSIDE = re.compile(r"\.\./shared|shared/reference")
# Tests that still read the reference payloads from outside the checkout; the same
# files are in docs/samples/, so point these tests there and drop them from this list.
READS_OUTSIDE_SAMPLES: set[str] = set()
THIS_FILE = "tests/test_docs_references.py"


def repository_files() -> list[str]:
    """Tracked and new (not ignored) files, as repository-relative POSIX paths."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):  # no git: walk the tree instead
        skip = {".git", ".venv", ".data", ".prefect", "__pycache__", "node_modules"}
        listing = [
            path.relative_to(ROOT).as_posix()
            for path in ROOT.rglob("*")
            if path.is_file() and not skip.intersection(path.relative_to(ROOT).parts)
        ]
    return sorted(path for path in listing if (ROOT / path).is_file())


def read_text(path: str) -> str | None:
    try:
        return (ROOT / path).read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def resolves(path: str) -> bool:
    """A repository path exists; a path with `*` must match at least one file."""
    path = path.rstrip(".")
    if "*" in path:
        return any(ROOT.glob(path))
    return (ROOT / path).exists()


def documents() -> list[str]:
    found: list[str] = []
    for pattern in DOCUMENTS:
        found.extend(sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob(pattern)))
    return found


def test_the_docs_folder_has_the_documents_the_code_cites() -> None:
    for name in (
        "docs/pyrus-api.md",
        "docs/confluence-api.md",
        "docs/effect-measurement.md",
        "docs/architecture.md",
    ):
        assert (ROOT / name).is_file(), f"{name} is missing"


@pytest.mark.parametrize("document", documents())
def test_every_path_a_document_names_exists(document: str) -> None:
    text = read_text(document)
    assert text is not None
    missing = sorted({path for path in DOC_PATH.findall(text) if not resolves(path)})
    base = (ROOT / document).parent
    missing.extend(
        f"link {target}"
        for target in MARKDOWN_LINK.findall(text)
        if "://" not in target
        and not target.startswith("mailto:")
        and not (base / target).resolve().exists()
    )
    assert not missing, f"{document} names paths that do not exist: {missing}"


def test_every_doc_or_module_path_in_code_and_comments_exists() -> None:
    missing: list[str] = []
    for path in repository_files():
        if Path(path).suffix not in SOURCE_SUFFIXES or path == THIS_FILE:
            continue
        if path.startswith(IMMUTABLE):  # a migration's comment is history: the file moved since
            continue
        text = read_text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            missing.extend(
                f"{path}:{number}: {cited}"
                for cited in CODE_PATH.findall(line)
                if not resolves(cited)
            )
    assert not missing, "citations of files that do not exist:\n" + "\n".join(missing)


def test_every_file_named_in_backticks_exists_somewhere() -> None:
    files = repository_files()
    names = {Path(path).name for path in files} | NAMED_ON_PURPOSE
    unknown: list[str] = []
    for path in files:
        if Path(path).suffix not in SOURCE_SUFFIXES or path == THIS_FILE:
            continue
        text = read_text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            unknown.extend(
                f"{path}:{number}: {name}" for name in NAMED_FILE.findall(line) if name not in names
            )
    assert not unknown, "files named that no longer exist:\n" + "\n".join(unknown)


def test_reference_notes_are_cited_by_their_docs_path() -> None:
    bare: list[str] = []
    for path in repository_files():
        if Path(path).suffix not in SOURCE_SUFFIXES or path == THIS_FILE:
            continue
        if path.startswith(IMMUTABLE) or path.startswith("docs/"):
            continue
        text = read_text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for match in NOTE_NAMES.finditer(line):
                if not line[: match.start()].endswith("docs/"):
                    bare.append(f"{path}:{number}: {match.group(0)}")
    assert not bare, "cite reference notes as docs/<name>.md:\n" + "\n".join(bare)


def test_nothing_cites_files_outside_the_repository() -> None:
    outside: list[str] = []
    for path in repository_files():
        if path == THIS_FILE or path in READS_OUTSIDE_SAMPLES:
            continue
        text = read_text(path)
        if text is None:
            continue
        outside.extend(
            f"{path}:{number}: {line.strip()[:120]}"
            for number, line in enumerate(text.splitlines(), 1)
            if OUTSIDE.search(line)
        )
    assert not outside, "use docs/ (or docs/samples/) instead of:\n" + "\n".join(outside)


def test_the_samples_in_docs_are_the_payloads_the_docs_describe() -> None:
    """docs/pyrus-api.md states a signature test vector over one sample's exact bytes."""
    from assistant.bot.webhook import sign

    body = (ROOT / "docs/samples/pyrus/bot-webhook-payload.json").read_bytes()
    vector = re.search(r"X-Pyrus-Sig: ([0-9A-F]{40})", read_text("docs/pyrus-api.md") or "")
    assert vector is not None
    assert sign("test-bot-secret", body) == vector.group(1)
