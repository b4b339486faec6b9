import pytest

from app import create_app
from config import ConfigError, get_config

CORE_SECRETS = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CODE_KEYS")


@pytest.mark.parametrize("missing", CORE_SECRETS)
def test_production_refuses_to_start_without_a_secret_and_names_it(production_env, missing):
    production_env.delenv(missing)
    with pytest.raises(ConfigError, match=missing):
        create_app("production")


def test_production_starts_with_its_secrets(production_env):
    assert get_config("production").SECRET_KEY == production_env.secrets["SECRET_KEY"]


def test_development_has_safe_defaults(monkeypatch):
    for name in CORE_SECRETS:
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
def test_bad_code_keys_stop_start_up(production_env, keys, complaint):
    production_env.setenv("CODE_KEYS", keys)
    with pytest.raises(ConfigError, match=complaint):
        create_app("production")


def test_production_has_dual_control_on_and_a_threshold_can_be_turned_off(production_env):
    config = get_config("production")
    assert (config.DUAL_CONTROL_REBATE_APPROVAL, config.DUAL_CONTROL_CODE_PACK_HIDDEN) == (True, True)
    assert (config.DUAL_CONTROL_CAMPAIGN_BUDGET_FEN, config.DUAL_CONTROL_POINTS_ADJUST) == (1_000_000, 10_000)
    production_env.setenv("DUAL_CONTROL_POINTS_ADJUST", "off")
    production_env.setenv("DUAL_CONTROL_CAMPAIGN_BUDGET_FEN", "0")
    config = get_config("production")
    assert (config.DUAL_CONTROL_CAMPAIGN_BUDGET_FEN, config.DUAL_CONTROL_POINTS_ADJUST) == (0, None)
    production_env.setenv("DUAL_CONTROL_POINTS_ADJUST", "lots")
    with pytest.raises(ConfigError, match="DUAL_CONTROL_POINTS_ADJUST"):
        get_config("production")
