import pytest

from app import create_app
from config import ConfigError, get_config

SECRETS = {"SECRET_KEY": "s" * 40, "DATABASE_URL": "sqlite://", "REDIS_URL": "redis://localhost:6379/0",
           "CODE_KEYS": "1:" + "ab" * 32}


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_production_refuses_to_start_without_a_secret_and_names_it(monkeypatch, missing):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(missing)
    with pytest.raises(ConfigError, match=missing):
        create_app("production")


def test_production_starts_with_its_secrets(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    assert get_config("production").SECRET_KEY == SECRETS["SECRET_KEY"]


def test_development_has_safe_defaults(monkeypatch):
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    config = get_config("development")
    assert config.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert config.REDIS_URL is None


def test_an_unknown_environment_is_refused():
    with pytest.raises(ConfigError, match="MATONG_ENV"):
        get_config("staging")


@pytest.mark.parametrize("keys, complaint", [
    ("1:abcd", "at least 32"),
    ("nonsense", "look like"),
    ("1:" + "ab" * 32 + ",1:" + "cd" * 32, "twice"),
])
def test_bad_code_keys_stop_start_up(monkeypatch, keys, complaint):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CODE_KEYS", keys)
    with pytest.raises(ConfigError, match=complaint):
        create_app("production")
