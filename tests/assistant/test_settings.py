"""Settings parse the documented env formats."""

import pytest

from assistant.config import load_settings
from assistant.errors import ConfigError
from assistant.settings import AssistantSettings


def test_form_ids_accept_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYRUS_FORM_IDS", "523411, 77")
    assert load_settings(AssistantSettings).pyrus_form_ids == [523411, 77]


def test_form_ids_accept_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYRUS_FORM_IDS", "[1, 2]")
    assert load_settings(AssistantSettings).pyrus_form_ids == [1, 2]


def test_invalid_form_id_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYRUS_FORM_IDS", "abc")
    with pytest.raises(ConfigError, match="PYRUS_FORM_IDS"):
        load_settings(AssistantSettings)


def test_secrets_do_not_leak_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_API_KEY", "sk-very-secret")
    assert "sk-very-secret" not in repr(load_settings(AssistantSettings))


def test_env_example_lists_every_setting() -> None:
    import re
    from pathlib import Path

    from assistant.categorization.policy import CategorizeConfig
    from flows.settings import FlowSettings

    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text("utf-8")
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    expected = {name.upper() for name in FlowSettings.model_fields}
    expected |= {f"KB_CATEGORIZE_{name.upper()}" for name in CategorizeConfig.model_fields}
    assert expected - listed == set()
