"""WeChat Pay transfer bills against the sandbox over real HTTP on loopback: signatures both ways."""
from __future__ import annotations

import json
import secrets
import time

import pytest
import requests

from app.wechat import pay
from app.wechat.sandbox import faults
from app.wechat.sandbox import pay as sandbox_pay
from app.wechat.sandbox.credentials import SandboxCredentials

OPENID = "o-sandbox-transfer-user"


def bill_no() -> str:
    return "T" + secrets.token_hex(12)


def create(out_bill_no: str, **overrides) -> pay.TransferBill:
    params = dict(out_bill_no=out_bill_no, openid=OPENID, amount_fen=88, remark="扫码红包",
                  report_infos=[{"info_type": "活动名称", "info_content": "开盖有奖"},
                                {"info_type": "奖励说明", "info_content": "扫码抽奖"}])
    return pay.create_transfer(**{**params, **overrides})


def user_confirms(sandbox, out_bill_no: str, action: str = "confirm") -> dict:
    response = requests.post(f"{sandbox.url}/__sandbox__/transfers/{out_bill_no}/{action}", timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def test_sandbox_keys_are_made_at_start_up():
    first, second = SandboxCredentials.generate().pay, SandboxCredentials.generate().pay
    assert first["merchant_private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert first["platform_public_key_id"].startswith("PUB_KEY_ID_")
    assert first["platform_private_key"] != second["platform_private_key"]


def test_a_created_bill_waits_for_the_user_and_can_be_queried(sandbox):
    number = bill_no()
    created = create(number)
    assert created.state == "WAIT_USER_CONFIRM" and created.package_info and created.transfer_bill_no
    found = pay.query_transfer(out_bill_no=number)
    assert (found.transfer_bill_no, found.state, found.transfer_amount, found.openid) == (
        created.transfer_bill_no, "WAIT_USER_CONFIRM", 88, OPENID)


def test_the_same_out_bill_no_with_the_same_parameters_is_the_same_bill(sandbox):
    number = bill_no()
    assert create(number).transfer_bill_no == create(number).transfer_bill_no


def test_the_same_out_bill_no_with_other_parameters_is_refused(sandbox):
    number = bill_no()
    create(number)
    with pytest.raises(pay.WeChatPayConflict) as caught:
        create(number, amount_fen=99)
    assert caught.value.status == 409 and caught.value.errors["wechat_code"] == "INVALID_REQUEST"


def test_less_than_a_tenth_of_a_yuan_is_refused_before_calling(sandbox):
    number = bill_no()
    with pytest.raises(pay.TransferAmountTooSmall):
        create(number, amount_fen=9)
    with pytest.raises(pay.TransferBillNotFound):
        pay.query_transfer(out_bill_no=number)


def test_the_sandbox_refuses_a_request_not_signed_by_the_merchant(sandbox):
    response = requests.get(f"{sandbox.url}{sandbox_pay.TRANSFERS}/out-bill-no/{bill_no()}", timeout=5,
                            headers={"Authorization": 'WECHATPAY2-SHA256-RSA2048 mchid="1",signature="x"'})
    assert response.status_code == 401 and response.json()["code"] == "SIGN_ERROR"


def test_a_cancelled_bill_ends_cancelled_and_a_paid_one_cannot_be_cancelled(sandbox):
    number, paid = bill_no(), bill_no()
    create(number), create(paid)
    assert pay.cancel_transfer(out_bill_no=number).state == "CANCELING"
    assert pay.query_transfer(out_bill_no=number).state == "CANCELLED"
    user_confirms(sandbox, paid)
    with pytest.raises(pay.WeChatPayConflict):
        pay.cancel_transfer(out_bill_no=paid)


def test_the_user_confirms_and_the_signed_encrypted_callback_says_success(sandbox, notify_receiver):
    number = bill_no()
    create(number, notify_url=notify_receiver.url)
    assert user_confirms(sandbox, number)["state"] == "SUCCESS"
    headers, body = notify_receiver.wait_for(1)[0]
    notification = pay.parse_transfer_callback(headers, body)
    assert notification.event_type == "MCHTRANSFER.BILL.FINISHED"
    assert (notification.bill.out_bill_no, notification.bill.state, notification.bill.transfer_amount) == (
        number, "SUCCESS", 88)
    assert json.loads(body)["resource"]["associated_data"] == "mch_payment"
    assert pay.query_transfer(out_bill_no=number).state == "SUCCESS"


def test_the_user_declines_and_the_bill_fails(sandbox, notify_receiver):
    number = bill_no()
    create(number, notify_url=notify_receiver.url)
    user_confirms(sandbox, number, "decline")
    notification = pay.parse_transfer_callback(*notify_receiver.wait_for(1)[0])
    assert notification.bill.state == "FAIL" and notification.bill.fail_reason
    assert pay.query_transfer(out_bill_no=number).state == "FAIL"


def test_a_bill_left_unconfirmed_for_24_hours_is_closed(sandbox, notify_receiver):
    number = bill_no()
    create(number, notify_url=notify_receiver.url)
    clock = f"{sandbox.url}/__sandbox__/pay/clock"
    assert requests.post(clock, json={"advance_seconds": 23 * 3600}, timeout=5).json()["closed"] == []
    assert pay.query_transfer(out_bill_no=number).state == "WAIT_USER_CONFIRM"
    try:
        assert number in requests.post(clock, json={"advance_seconds": 3600}, timeout=5).json()["closed"]
        assert pay.query_transfer(out_bill_no=number).state == "CANCELLED"
        assert pay.parse_transfer_callback(*notify_receiver.wait_for(1)[0]).bill.state == "CANCELLED"
    finally:
        requests.post(clock, json={"advance_seconds": -24 * 3600}, timeout=5)


@pytest.mark.parametrize("kind", [faults.BAD_SIGNATURE, faults.UNSIGNED])
def test_an_answer_not_signed_by_wechat_pay_is_not_believed(sandbox, kind):
    number = bill_no()
    create(number)
    faults.inject(sandbox.state, "transfer_bills.query", kind)
    with pytest.raises(pay.WeChatPaySignatureInvalid):
        pay.query_transfer(out_bill_no=number)


def _callback(sandbox, number: str) -> tuple[dict, str]:
    bill = sandbox_pay.pay_state(sandbox.state).bills[number]
    return sandbox_pay.build_callback(sandbox.credentials, bill)


def test_a_tampered_or_foreign_callback_is_refused(sandbox):
    number = bill_no()
    create(number)
    user_confirms(sandbox, number)
    headers, body = _callback(sandbox, number)
    assert pay.parse_transfer_callback(headers, body).bill.state == "SUCCESS"
    with pytest.raises(pay.CallbackInvalid):
        pay.parse_transfer_callback(headers, body.replace("MCHTRANSFER", "MCHTRANSFEX"))
    forged = SandboxCredentials.generate()
    forged_headers, _ = sandbox_pay.build_callback(forged, sandbox_pay.pay_state(sandbox.state).bills[number])
    with pytest.raises(pay.CallbackInvalid):
        pay.parse_transfer_callback({**forged_headers, "Wechatpay-Serial": headers["Wechatpay-Serial"]}, body)
    with pytest.raises(pay.CallbackInvalid):
        pay.parse_transfer_callback({**headers, "Wechatpay-Timestamp": str(int(time.time()) - 3600)}, body)


def test_a_callback_encrypted_with_another_apiv3_key_is_refused(sandbox):
    number = bill_no()
    create(number)
    credentials = sandbox.credentials
    other = SandboxCredentials(apps=credentials.apps, mchid=credentials.mchid, apiv3_key=secrets.token_hex(16),
                               v2_key=credentials.v2_key, pay=credentials.pay)
    headers, body = sandbox_pay.build_callback(other, sandbox_pay.pay_state(sandbox.state).bills[number])
    with pytest.raises(pay.CallbackInvalid):
        pay.parse_transfer_callback(headers, body)


@pytest.mark.parametrize("kind", [faults.SYSTEM_ERROR, faults.HTTP_500, faults.RATE_LIMITED])
def test_a_busy_wechat_pay_is_unavailable_with_a_retry_hint(sandbox, kind):
    faults.inject(sandbox.state, "transfer_bills.create", kind)
    with pytest.raises(pay.WeChatPayUnavailable) as caught:
        create(bill_no())
    assert caught.value.status == 503 and caught.value.headers["Retry-After"]


def test_a_business_failure_is_refused_with_wechats_code(sandbox):
    faults.inject(sandbox.state, "transfer_bills.create", faults.FAIL, errcode="NOT_ENOUGH")
    with pytest.raises(pay.WeChatPayRejected) as caught:
        create(bill_no())
    assert caught.value.status == 422 and caught.value.errors["wechat_code"] == "NOT_ENOUGH"


def test_a_create_that_timed_out_is_found_by_querying_the_same_out_bill_no(app, sandbox, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_TIMEOUT_SECONDS", 0.5)
    faults.inject(sandbox.state, "transfer_bills.create", faults.TIMEOUT, delay=1.0)
    number = bill_no()
    with pytest.raises(pay.WeChatPayUnavailable):
        create(number)
    time.sleep(0.8)  # the sandbox finishes the call it was stalling
    found = pay.query_transfer(out_bill_no=number)
    assert found.state == "WAIT_USER_CONFIRM"
    assert create(number).transfer_bill_no == found.transfer_bill_no  # a retry is the same bill


def test_a_duplicated_callback_arrives_twice_and_says_the_same(sandbox, notify_receiver):
    number = bill_no()
    create(number, notify_url=notify_receiver.url)
    faults.inject(sandbox.state, "callback", faults.DUPLICATE)
    user_confirms(sandbox, number)
    first, second = [pay.parse_transfer_callback(*c) for c in notify_receiver.wait_for(2)[:2]]
    assert first == second and first.bill.state == "SUCCESS"


def test_a_callback_that_never_comes_leaves_the_query(sandbox, notify_receiver):
    number = bill_no()
    create(number, notify_url=notify_receiver.url)
    faults.inject(sandbox.state, "callback", faults.NEVER)
    user_confirms(sandbox, number)
    assert notify_receiver.wait_for(1, timeout=0.5) == []
    assert pay.query_transfer(out_bill_no=number).state == "SUCCESS"


def test_callbacks_can_arrive_out_of_order(sandbox, notify_receiver):
    early, late = bill_no(), bill_no()
    create(early, notify_url=notify_receiver.url), create(late, notify_url=notify_receiver.url)
    faults.inject(sandbox.state, "callback", faults.OUT_OF_ORDER)
    user_confirms(sandbox, early)
    user_confirms(sandbox, late, "decline")
    order = [pay.parse_transfer_callback(*c).bill.out_bill_no for c in notify_receiver.wait_for(2)]
    assert order == [late, early]


def test_a_refused_callback_is_retried_until_acknowledged(sandbox, notify_receiver):
    number = bill_no()
    create(number, notify_url=notify_receiver.url)
    notify_receiver.answers = [500, 500]
    user_confirms(sandbox, number)
    received = notify_receiver.wait_for(3)
    assert len(received) == 3 and received[0][1] == received[2][1]


def test_the_confirm_page_lets_a_tester_act_as_the_user(sandbox):
    number = bill_no()
    create(number)
    page = requests.get(f"{sandbox.url}/__sandbox__/transfers/{number}", timeout=5)
    assert page.status_code == 200 and "WAIT_USER_CONFIRM" in page.text and "Decline" in page.text
    after = requests.post(f"{sandbox.url}/__sandbox__/transfers/{number}/confirm", data={"page": "1"}, timeout=5)
    assert after.status_code == 200 and ">SUCCESS<" in after.text  # followed the redirect to the page
    assert pay.query_transfer(out_bill_no=number).state == "SUCCESS"
