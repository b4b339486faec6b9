"""APIv2 cash red packets through wechatpy against the sandbox: MD5-signed XML checked both ways."""
from __future__ import annotations

import secrets

import pytest
import requests
from app.wechat import pay, redpack
from app.wechat.sandbox import faults
from app.wechat.sandbox import pay as sandbox_pay

OPENID = "o-sandbox-redpack-user"

# WeChat Pay's published MD5 signing example (APIv2 安全规范).
EXAMPLE_KEY = "192006250b4c09247ec02edce69f6a2d"
EXAMPLE_PARAMS = {"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000",
                  "body": "test", "nonce_str": "ibuaiVcKdpRxkhJA"}
EXAMPLE_SIGN = "9A0A8659F005D6984697E2CA0A9CF3B7"


def billno() -> str:
    return "RP" + secrets.token_hex(10)


def send(mch_billno: str, **overrides) -> redpack.RedpackSent:
    params = dict(mch_billno=mch_billno, openid=OPENID, amount_fen=188, send_name="码通酒业",
                  act_name="开盖有奖", wishing="恭喜发财", remark="扫码抽奖")
    return redpack.send_redpack(**{**params, **overrides})


def test_md5_signatures_match_wechats_published_example():
    assert redpack.md5_signature(EXAMPLE_PARAMS, EXAMPLE_KEY) == EXAMPLE_SIGN
    assert sandbox_pay.md5_sign(EXAMPLE_PARAMS, EXAMPLE_KEY) == EXAMPLE_SIGN


def test_a_red_packet_is_sent_and_then_received(sandbox):
    number = billno()
    sent = send(number)
    assert (sent.mch_billno, sent.total_amount, sent.openid) == (number, 188, OPENID) and sent.send_listid
    assert redpack.query_redpack(mch_billno=number).status == "SENT"
    requests.post(f"{sandbox.url}/__sandbox__/redpacks/{number}/receive", timeout=5).raise_for_status()
    info = redpack.query_redpack(mch_billno=number)
    assert (info.status, info.total_amount, info.openid) == ("RECEIVED", 188, OPENID) and info.rcv_time


def test_the_same_mch_billno_is_the_same_red_packet(sandbox):
    number = billno()
    assert send(number).send_listid == send(number).send_listid
    with pytest.raises(pay.WeChatPayRejected) as caught:
        send(number, amount_fen=200)
    assert caught.value.errors["wechat_code"] == "PARAM_ERROR"


@pytest.mark.parametrize("amount", [99, 20001])
def test_amounts_outside_1_to_200_yuan_are_refused(sandbox, amount):
    with pytest.raises(redpack.RedpackAmountOutOfRange):
        send(billno(), amount_fen=amount)


def test_the_sandbox_refuses_a_request_signed_with_another_key(sandbox):
    params = {"mch_id": sandbox.credentials.mchid, "mch_billno": billno(), "bill_type": "MCHT",
              "appid": "wx0", "nonce_str": "abc"}
    params["sign"] = redpack.md5_signature(params, secrets.token_hex(16))
    body = "<xml>" + "".join(f"<{k}>{v}</{k}>" for k, v in params.items()) + "</xml>"
    answer = requests.post(f"{sandbox.url}/mmpaymkttransfers/gethbinfo", data=body.encode(), timeout=5)
    assert "<return_code><![CDATA[FAIL]]></return_code>" in answer.text and "签名错误" in answer.text


def test_an_answer_whose_sign_does_not_check_out_is_not_believed(sandbox):
    faults.inject(sandbox.state, "redpack.send", faults.BAD_SIGNATURE)
    with pytest.raises(pay.WeChatPaySignatureInvalid):
        send(billno())


def test_systemerror_is_unavailable_and_the_same_billno_settles_it(sandbox):
    number = billno()
    faults.inject(sandbox.state, "redpack.send", faults.SYSTEM_ERROR)
    with pytest.raises(pay.WeChatPayUnavailable) as caught:
        send(number)
    assert caught.value.status == 503 and caught.value.errors["wechat_code"] == "SYSTEMERROR"
    assert send(number).mch_billno == number


def test_not_enough_money_is_refused_with_wechats_code(sandbox):
    faults.inject(sandbox.state, "redpack.send", faults.FAIL, errcode="NOTENOUGH")
    with pytest.raises(pay.WeChatPayRejected) as caught:
        send(billno())
    assert caught.value.status == 422 and caught.value.errors["wechat_code"] == "NOTENOUGH"


def test_a_timeout_is_unavailable(app, sandbox, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_TIMEOUT_SECONDS", 0.5)
    faults.inject(sandbox.state, "redpack.query", faults.TIMEOUT, delay=1.0)
    with pytest.raises(pay.WeChatPayUnavailable):
        redpack.query_redpack(mch_billno=billno())


def test_an_unsigned_answer_is_taken_as_wechat_sends_it(sandbox):
    """WeChat's sendredpack answers carry no sign (the client certificate secures the channel)."""
    faults.inject(sandbox.state, "redpack.send", faults.UNSIGNED)
    number = billno()
    assert send(number).mch_billno == number
