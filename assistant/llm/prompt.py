"""Prompt files: `assistant/llm/prompts/<name>.md` parsed into a versioned `Prompt`.

Kept apart from the suggester (`assistant/bot/suggest.py`): loading a prompt is a file read.
Not called `prompts.py`: the `assistant/llm/prompts/` directory holding the .md files
already has that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROMPT_DIR = Path(__file__).with_name("prompts")


@dataclass(frozen=True)
class Prompt:
    """A prompt file: its version line, system part and user template."""

    version: str
    system: str
    user_template: str

    def leak_probes(self) -> list[str]:
        """Long system-prompt lines: seeing one in a reply means the prompt leaked."""
        return [line.strip() for line in self.system.splitlines() if len(line.strip()) >= 40]


def load_prompt(name: str = "suggest", directory: Path = PROMPT_DIR) -> Prompt:
    """Read `prompts/<name>.md`: `version: …` first, then `## system` and `## user`."""
    text = (directory / f"{name}.md").read_text("utf-8")
    first, _, rest = text.partition("\n")
    if not first.startswith("version:"):
        raise ValueError(f"prompt {name}.md must start with a 'version:' line")
    _, _, after_system = rest.partition("## system\n")
    system, _, user = after_system.partition("## user\n")
    return Prompt(version=first.split(":", 1)[1].strip(), system=system.strip(), user_template=user)
