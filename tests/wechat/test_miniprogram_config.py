"""Configuration picks the sandbox or WeChat; production refuses the sandbox."""
from __future__ import annotations

import pytest

from config import ConfigError, get_config

SECRETS = {"SECRET_KEY": "s" * 40, "DATABASE_URL": "sqlite://", "REDIS_URL": "redis://localhost:6379/0",
           "CODE_KEYS": "1:" + "ab" * 32}


@pytest.fixture
def production_env(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    for name in ("WECHAT_API_BASE", "WECHATPAY_API_BASE", "WECHAT_SANDBOX_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("setting", ["WECHAT_API_BASE", "WECHATPAY_API_BASE"])
def test_production_refuses_the_sandbox(production_env, setting):
    production_env.setenv(setting, "sandbox")
    with pytest.raises(ConfigError, match=f"{setting}=sandbox"):
        get_config("production")


def test_production_talks_to_wechat_by_default(production_env):
    config = get_config("production")
    assert config.WECHAT_API_BASE == "https://api.weixin.qq.com"
    assert config.WECHATPAY_API_BASE == "https://api.mch.weixin.qq.com"


def test_tests_and_development_use_the_sandbox(production_env):
    assert get_config("testing").WECHAT_API_BASE == "sandbox"
    assert get_config("development").WECHAT_API_BASE == "sandbox"
