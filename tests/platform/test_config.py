import json
import os
import runpy
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app
from config import KNOWN_CODE_KEYS, LOCAL_SECRETS_FILE, ROOT, ConfigError, get_config

CORE_SECRETS = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CODE_KEYS")


@pytest.mark.parametrize("missing", CORE_SECRETS)
def test_production_refuses_to_start_without_a_secret_and_names_it(production_env, missing):
    production_env.delenv(missing)
    with pytest.raises(ConfigError, match=missing):
        create_app("production")


def test_production_starts_with_its_secrets(production_env):
    assert get_config("production").SECRET_KEY == production_env.secrets["SECRET_KEY"]


def test_production_takes_a_redis_cluster_instead_of_a_redis_server(production_env):
    production_env.delenv("REDIS_URL")
    production_env.setenv("REDIS_CLUSTER_NODES", "10.0.0.5:6379, 10.0.0.6:6379,[fd00::7]:6380")
    config = get_config("production")
    assert config.REDIS_CLUSTER_NODES == [("10.0.0.5", 6379), ("10.0.0.6", 6379), ("fd00::7", 6380)]
    assert config.CONSUMER_SCAN_WRITER == "stream"


def test_production_without_redis_names_both_settings(production_env):
    production_env.delenv("REDIS_URL")
    with pytest.raises(ConfigError, match="REDIS_URL is not set \\(nor REDIS_CLUSTER_NODES\\)"):
        get_config("production")


@pytest.mark.parametrize("nodes", ["10.0.0.5", "10.0.0.5:", "10.0.0.5:0", "10.0.0.5:70000", ":6379",
                                   "10.0.0.5:6379,redis://10.0.0.6:6379", "10.0.0.5:63x9"])
def test_a_malformed_cluster_node_stops_start_up_and_is_named(monkeypatch, nodes):
    monkeypatch.setenv("REDIS_CLUSTER_NODES", nodes)
    with pytest.raises(ConfigError, match="REDIS_CLUSTER_NODES holds .*host:port"):
        get_config("testing")


def test_development_has_safe_defaults(monkeypatch, tmp_path):
    for name in CORE_SECRETS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MATONG_VAR_DIR", str(tmp_path))
    config = get_config("development")
    assert config.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert config.REDIS_URL is None


def test_an_unknown_environment_is_refused():
    with pytest.raises(ConfigError, match="MATONG_ENV"):
        get_config("staging")


@pytest.mark.parametrize("keys, complaint", [
    ("1:abcd", "at least 32"),
    ("nonsense", "look like"),
    ("1:{random},1:{random}", "twice"),
])
def test_bad_code_keys_stop_start_up(production_env, keys, complaint):
    keys = keys.format(random=secrets.token_hex(32))
    production_env.setenv("CODE_KEYS", keys)
    with pytest.raises(ConfigError, match=complaint):
        create_app("production")


# --- no committed secret signs anything outside the tests ---------------------------------------

@pytest.fixture
def development_env(monkeypatch, tmp_path):
    """The embedded default as `make run` starts it: no secret in the environment, var/ of its own."""
    for name in CORE_SECRETS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MATONG_VAR_DIR", str(tmp_path / "var"))
    return tmp_path / "var"


def test_development_generates_its_keys_once_keeps_them_private_and_reuses_them(development_env):
    first = get_config("development")
    again = get_config("development")
    assert (again.SECRET_KEY, again.CODE_KEYS) == (first.SECRET_KEY, first.CODE_KEYS)
    version, _, key = first.CODE_KEYS.partition(":")
    assert version == "1" and len(bytes.fromhex(key)) == 32 and key not in KNOWN_CODE_KEYS
    assert len(first.SECRET_KEY) >= 32
    kept = development_env / LOCAL_SECRETS_FILE
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert json.loads(kept.read_text()) == {"SECRET_KEY": first.SECRET_KEY, "CODE_KEYS": first.CODE_KEYS}
    assert sorted(p.name for p in development_env.iterdir()) == [LOCAL_SECRETS_FILE]


def test_two_machines_get_different_development_keys(development_env, monkeypatch, tmp_path):
    here = get_config("development").CODE_KEYS
    monkeypatch.setenv("MATONG_VAR_DIR", str(tmp_path / "elsewhere"))
    assert get_config("development").CODE_KEYS != here


def test_processes_starting_together_share_one_set_of_development_keys(development_env):
    # Gunicorn workers and `flask` commands start at once; each must sign with the same key.
    script = "from config import get_config; c = get_config('development'); print(c.CODE_KEYS, c.SECRET_KEY)"
    processes = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=os.environ.copy(),
                                  stdout=subprocess.PIPE, text=True) for _ in range(6)]
    answers = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert len(answers) == 1 and all(process.returncode == 0 for process in processes)


def test_a_code_key_given_to_development_is_used(development_env, monkeypatch):
    monkeypatch.setenv("CODE_KEYS", "3:" + "5e" * 16 + "a1" * 16)
    assert get_config("development").CODE_KEYS.startswith("3:")


@pytest.mark.parametrize("keys", [
    "1:" + "11" * 32,  # the development default until issue 12
    "1:" + "aa" * 32 + ",2:" + "bb" * 32,  # the testing keys
    "1:" + "ab" * 32,
])
def test_production_refuses_a_code_key_committed_to_the_repository(production_env, keys):
    production_env.setenv("CODE_KEYS", keys)
    with pytest.raises(ConfigError, match="committed"):
        create_app("production")


def test_production_refuses_a_committed_key_even_beside_a_good_one(production_env):
    good = production_env.secrets["CODE_KEYS"]
    production_env.setenv("CODE_KEYS", f"{good},2:{'11' * 32}")
    with pytest.raises(ConfigError, match="key version 2"):
        get_config("production")


def test_production_refuses_a_patterned_code_key(production_env):
    production_env.setenv("CODE_KEYS", "1:" + "0123456789abcdef" * 4)
    with pytest.raises(ConfigError, match="pattern"):
        get_config("production")


@pytest.mark.parametrize("secret_key", ["too-short-a-secret", "dev-only-secret-key", "testing-secret-key", "s" * 40])
def test_production_refuses_a_short_or_committed_secret_key(production_env, secret_key):
    production_env.setenv("SECRET_KEY", secret_key)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        get_config("production")


@pytest.mark.parametrize("name, value", [
    ("WECHAT_API_BASE", "http://api.weixin.qq.com"),
    ("WECHATPAY_API_BASE", "http://api.mch.weixin.qq.com"),
    ("WECHAT_SANDBOX_URL", "http://127.0.0.1:9000"),
])
def test_production_refuses_plain_http_to_wechat(production_env, name, value):
    production_env.setenv(name, value)
    with pytest.raises(ConfigError, match=f"{name}=.*https"):
        create_app("production")


def test_production_accepts_https_wechat_bases(production_env):
    production_env.setenv("WECHATPAY_API_BASE", "https://api2.mch.weixin.qq.com")
    assert get_config("production").WECHATPAY_API_BASE == "https://api2.mch.weixin.qq.com"


def test_gunicorn_listens_on_loopback_unless_told_otherwise(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # the file sets it; this process stays single
    monkeypatch.delenv("BIND", raising=False)
    assert runpy.run_path(str(ROOT / "config" / "gunicorn.py"))["bind"] == "127.0.0.1:8000"
    monkeypatch.setenv("BIND", "0.0.0.0:8000")
    assert runpy.run_path(str(ROOT / "config" / "gunicorn.py"))["bind"] == "0.0.0.0:8000"


@pytest.mark.parametrize("shared", [{}, {"REDIS_URL": "redis://10.0.0.5:6379/0"},
                                    {"REDIS_CLUSTER_NODES": "10.0.0.5:6379,10.0.0.6:6379"}])
def test_gunicorn_runs_several_workers_only_on_a_shared_redis(monkeypatch, tmp_path, shared):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    for name in ("REDIS_URL", "REDIS_CLUSTER_NODES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in shared.items():
        monkeypatch.setenv(name, value)
    assert runpy.run_path(str(ROOT / "config" / "gunicorn.py"))["workers"] == (5 if shared else 1)


def test_no_key_secret_or_password_is_fixed_outside_the_tests():
    # What issue 12 found committed and used: none of it may come back in the code that runs.
    fixed = ['"11" * 32', "dev-only-secret-key", "matong-demo-2026"]
    sources = [*Path(ROOT, "app").rglob("*.py"), *Path(ROOT, "config").rglob("*.py"), Path(ROOT, "Makefile"),
               Path(ROOT, "docker-compose.yml"), Path(ROOT, "Dockerfile")]
    found = [(str(path.relative_to(ROOT)), text) for path in sources for text in fixed
             if text in path.read_text() and not (path.name == "__init__.py" and path.parent.name == "config")]
    assert found == []


def test_production_webhooks_post_to_public_https_only(production_env, monkeypatch, tmp_path):
    production = get_config("production")
    assert (production.WEBHOOK_ALLOW_PRIVATE, production.WEBHOOK_HTTPS_ONLY) == (False, True)
    monkeypatch.setenv("MATONG_VAR_DIR", str(tmp_path))
    development = get_config("development")
    assert (development.WEBHOOK_ALLOW_PRIVATE, development.WEBHOOK_HTTPS_ONLY) == (True, False)


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


@pytest.mark.parametrize("name, value", [
    ("BRAND_SERVICE_PHONE", "javascript:alert(1)"), ("BRAND_SERVICE_PHONE", "400<b>"),
    ("BRAND_REPORT_EMAIL", "nobody"), ("BRAND_REPORT_EMAIL", 'a"@b.cn'),
    ("BRAND_REPORT_URL", "http://brand.example.com/report"), ("BRAND_REPORT_URL", "javascript:alert(1)"),
    ("BRAND_REPORT_URL", 'https://brand.example.com/"onmouseover=x'),
])
def test_brand_contacts_that_could_not_be_a_safe_link_stop_start_up(production_env, name, value):
    production_env.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        get_config("production")


def test_brand_contacts_are_optional_and_read_from_the_environment(production_env):
    config = get_config("production")
    assert (config.BRAND_SERVICE_PHONE, config.BRAND_REPORT_EMAIL, config.BRAND_REPORT_URL) == ("", "", "")
    production_env.setenv("BRAND_SERVICE_PHONE", "+86 400-820-8820")
    production_env.setenv("BRAND_REPORT_EMAIL", "report@brand.example.com")
    production_env.setenv("BRAND_REPORT_URL", "https://brand.example.com/report?from=label")
    config = get_config("production")
    assert (config.BRAND_SERVICE_PHONE, config.BRAND_REPORT_EMAIL, config.BRAND_REPORT_URL) == (
        "+86 400-820-8820", "report@brand.example.com", "https://brand.example.com/report?from=label")
