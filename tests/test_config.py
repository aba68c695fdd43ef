import pytest

from assistant.config import SettingsError, load_settings


def test_env_and_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_K", "7")
    assert load_settings().k == 7
    assert load_settings(k=3).k == 3
    assert load_settings(k=None).k == 7


def test_unknown_env_setting_fails_loudly(monkeypatch):
    monkeypatch.setenv("ASSISTANT_TYPO_SETTING", "1")
    with pytest.raises(SettingsError, match="ASSISTANT_TYPO_SETTING"):
        load_settings()


def test_unknown_override_and_bad_value_fail():
    with pytest.raises(SettingsError, match="nonsense"):
        load_settings(nonsense=1)
    with pytest.raises(SettingsError):
        load_settings(k=0)


def test_unknown_answerer_is_an_error(make_assistant):
    with pytest.raises(ValueError, match="unknown answerer"):
        make_assistant(answerer="oracle")
