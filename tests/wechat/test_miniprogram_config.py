"""Configuration picks the sandbox or WeChat; production refuses the sandbox."""
from __future__ import annotations

import pytest

from config import ConfigError, get_config

@pytest.mark.parametrize("setting", ["WECHAT_API_BASE", "WECHATPAY_API_BASE"])
def test_production_refuses_the_sandbox(production_env, setting):
    production_env.setenv(setting, "sandbox")
    with pytest.raises(ConfigError, match=f"{setting}=sandbox"):
        get_config("production")


def test_production_talks_to_wechat_by_default(production_env):
    config = get_config("production")
    assert config.WECHAT_API_BASE == "https://api.weixin.qq.com"
    assert config.WECHATPAY_API_BASE == "https://api.mch.weixin.qq.com"


@pytest.mark.parametrize("missing", ["WECHAT_CONSUMER_SECRET", "WECHATPAY_APIV3_KEY", "WECHATPAY_PUBLIC_KEY_ID"])
def test_production_refuses_to_talk_to_wechat_without_its_credentials(production_env, missing):
    production_env.delenv(missing)
    with pytest.raises(ConfigError, match=missing):
        get_config("production")


def test_production_refuses_a_merchant_key_file_that_is_not_there(production_env):
    production_env.setenv("WECHATPAY_PRIVATE_KEY_PATH", "/nonexistent/apiclient_key.pem")
    with pytest.raises(ConfigError, match="WECHATPAY_PRIVATE_KEY_PATH"):
        get_config("production")


def test_tests_and_development_use_the_sandbox(production_env):
    assert get_config("testing").WECHAT_API_BASE == "sandbox"
    assert get_config("development").WECHAT_API_BASE == "sandbox"
