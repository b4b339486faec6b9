"""`flask wechat-sandbox confirm|decline`: a tester acts as the user in WeChat from the shell."""
from __future__ import annotations

import secrets

from app.wechat import pay, runtime


def _bill() -> str:
    number = "C" + secrets.token_hex(12)
    pay.create_transfer(out_bill_no=number, openid="o-cli-user", amount_fen=50, remark="扫码奖励")
    return number


def test_confirm_from_the_cli_pays_the_bill(app):
    number, url = _bill(), runtime().sandbox_server().url
    result = app.test_cli_runner().invoke(args=["wechat-sandbox", "confirm", number, "--url", url])
    assert result.exit_code == 0, result.output
    assert f"{number}: SUCCESS" in result.output
    assert pay.query_transfer(out_bill_no=number).state == "SUCCESS"


def test_decline_from_the_cli_fails_the_bill(app):
    number, url = _bill(), runtime().sandbox_server().url
    result = app.test_cli_runner().invoke(args=["wechat-sandbox", "decline", number, "--url", url])
    assert result.exit_code == 0, result.output
    assert pay.query_transfer(out_bill_no=number).state == "FAIL"


def test_an_unknown_bill_is_a_clear_error(app):
    url = runtime().sandbox_server().url
    result = app.test_cli_runner().invoke(args=["wechat-sandbox", "confirm", "Nosuchbill1", "--url", url])
    assert result.exit_code != 0 and "404" in result.output
