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


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "https://pyrus.com"),
        ({"PYRUS_API_URL": "https://api.pyrus.com/v4/"}, "https://pyrus.com"),
        (
            {"PYRUS_API_URL": "https://pyrus.corp.example.ru/api/v4/"},
            "https://pyrus.corp.example.ru",
        ),
        ({"PYRUS_API_URL": "http://api.pyrus.corp.ru:8443/v4/"}, "http://pyrus.corp.ru:8443"),
        ({"PYRUS_AUTH_URL": "https://pyrus.corp.ru/api/v4/auth"}, "https://pyrus.corp.ru"),
        (
            {"PYRUS_API_URL": "https://api.pyrus.com/v4/", "PYRUS_WEB_URL": "https://my.host/"},
            "https://my.host",
        ),
    ],
)
def test_pyrus_web_url_defaults_from_the_api_host(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name in ("PYRUS_API_URL", "PYRUS_AUTH_URL", "PYRUS_WEB_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(AssistantSettings, _env_file=None)
    assert settings.pyrus_web_base == expected
    assert settings.pyrus_task_url_prefix == f"{expected}/t#id"
