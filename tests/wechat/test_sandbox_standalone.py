"""A standalone sandbox (as `flask wechat-sandbox run` serves it) and the sandbox commands."""
from __future__ import annotations

import pytest

from app.wechat import WeChatRuntime
from app.wechat import miniprogram as mp
from app.wechat.sandbox import SandboxServer, create_sandbox_app, faults
from app.wechat.sandbox import cli
from app.wechat.sandbox.miniprogram import mp_state


@pytest.fixture
def standalone(app, monkeypatch):
    server = SandboxServer(create_sandbox_app()).start()
    monkeypatch.setitem(app.config, "WECHAT_SANDBOX_URL", server.url)
    monkeypatch.setitem(app.extensions, "wechat", WeChatRuntime(app))
    yield server
    server.stop()


def test_a_standalone_sandbox_is_used_through_its_published_credentials(app, standalone):
    consumer = mp.client("consumer")
    session = consumer.code_to_session("sandbox:nora")
    assert consumer.appid == standalone.credentials.apps["consumer"].appid
    assert (consumer.appid, session.openid) in mp_state(standalone.state).sessions
    assert consumer.get_phone_number("sandbox-phone:13700000000") == "13700000000"
    assert app.extensions["wechat"]._server is None  # no in-process sandbox was started


def test_run_serves_a_fresh_sandbox_and_says_where(app, monkeypatch):
    served = {}
    monkeypatch.setattr(cli, "run_simple", lambda host, port, wsgi, **kw: served.update(
        host=host, port=port, app=wsgi, **kw))
    result = app.test_cli_runner().invoke(args=["wechat-sandbox", "run", "--port", "8931"])
    assert result.exit_code == 0, result.output
    assert "listening on http://127.0.0.1:8931" in result.output
    assert "http://127.0.0.1:8931/__sandbox__/credentials" in result.output
    assert (served["host"], served["port"], served["threaded"]) == ("127.0.0.1", 8931, True)
    assert "sandbox_controls.credentials" in served["app"].view_functions


def test_fault_arms_a_fault_in_the_running_sandbox(app, standalone):
    result = app.test_cli_runner().invoke(args=[
        "wechat-sandbox", "fault", "jscode2session", "fail", "--times", "2", "--errcode", "40163",
        "--url", standalone.url])
    assert result.exit_code == 0, result.output
    [armed] = faults.armed_faults(standalone.state)
    assert (armed.operation, armed.kind, armed.times, armed.errcode) == ("jscode2session", "fail", 2, 40163)


def test_reset_empties_the_running_sandbox(app, standalone):
    faults.inject(standalone.state, "token", "http_500")
    result = app.test_cli_runner().invoke(args=["wechat-sandbox", "reset"])  # WECHAT_SANDBOX_URL is set
    assert result.exit_code == 0, result.output
    assert faults.armed_faults(standalone.state) == []


def test_commands_on_a_running_sandbox_need_its_url(app, monkeypatch):
    monkeypatch.delenv("WECHAT_SANDBOX_URL", raising=False)
    result = app.test_cli_runner().invoke(args=["wechat-sandbox", "reset"])
    assert result.exit_code != 0
    assert "no sandbox URL" in result.output
