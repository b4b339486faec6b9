"""The sandbox's controls and fault injection, over HTTP on loopback."""
from __future__ import annotations

import requests

from app.wechat.sandbox import faults


def test_credentials_are_the_ones_generated_at_start_up(sandbox):
    answer = requests.get(sandbox.url + "/__sandbox__/credentials", timeout=5).json()
    assert answer == sandbox.credentials.as_dict()
    assert set(answer["apps"]) == {"dealer", "clerk", "consumer"}


def test_a_fault_fires_as_many_times_as_armed_then_stops(sandbox):
    created = requests.post(sandbox.url + "/__sandbox__/faults", timeout=5,
                            json={"operation": "token", "kind": "system_error", "times": 2})
    assert created.status_code == 201
    assert [f["kind"] for f in requests.get(sandbox.url + "/__sandbox__/faults", timeout=5).json()] == [
        "system_error"]
    assert faults.take_fault(sandbox.state, "token").kind == "system_error"
    assert faults.take_fault(sandbox.state, "jscode2session") is None
    assert faults.take_fault(sandbox.state, "token").kind == "system_error"
    assert faults.take_fault(sandbox.state, "token") is None


def test_an_unknown_fault_kind_is_refused(sandbox):
    answer = requests.post(sandbox.url + "/__sandbox__/faults", timeout=5,
                           json={"operation": "token", "kind": "gremlins"})
    assert answer.status_code == 400
    assert "unknown fault kind" in answer.json()["message"]


def test_faults_can_be_cleared_per_operation(sandbox):
    faults.inject(sandbox.state, "token", "http_500")
    faults.inject(sandbox.state, "jscode2session", "fail", errcode=40163)
    answer = requests.delete(sandbox.url + "/__sandbox__/faults", params={"operation": "token"}, timeout=5)
    assert answer.json() == {"removed": 1}
    assert [f.operation for f in faults.armed_faults(sandbox.state)] == ["jscode2session"]
    assert faults.take_fault(sandbox.state, "jscode2session").miniprogram_error() == {
        "errcode": 40163, "errmsg": "api unauthorized"}


def test_reset_forgets_faults_and_keeps_credentials(sandbox):
    faults.inject(sandbox.state, "token", "timeout", times=3)
    before = sandbox.credentials.as_dict()
    assert requests.post(sandbox.url + "/__sandbox__/reset", timeout=5).json() == {"reset": True}
    assert faults.armed_faults(sandbox.state) == []
    assert requests.get(sandbox.url + "/__sandbox__/credentials", timeout=5).json() == before


def test_the_sec_check_word_lists_must_be_strings(sandbox):
    bad = requests.put(sandbox.url + "/__sandbox__/msg-sec-check/words", json={"risky": [1]}, timeout=5)
    assert bad.status_code == 400
    good = requests.put(sandbox.url + "/__sandbox__/msg-sec-check/words", json={"risky": ["假货"]},
                        timeout=5)
    assert good.json() == {"risky": ["假货"], "review": []}


def test_a_wechat_pay_refusal_can_be_armed_with_its_http_status(sandbox):
    armed = requests.post(sandbox.url + "/__sandbox__/faults", timeout=5, json={
        "operation": "transfer_bills.query", "kind": "fail", "errcode": "SIGN_ERROR", "http_status": 401})
    assert armed.status_code == 201 and armed.json()["http_status"] == 401
    answer = requests.get(sandbox.url + "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/MT1234567", timeout=5)
    assert (answer.status_code, answer.json()["code"]) == (401, "SIGN_ERROR")
    refused = requests.post(sandbox.url + "/__sandbox__/faults", timeout=5, json={
        "operation": "transfer_bills.query", "kind": "fail", "http_status": 503})
    assert refused.status_code == 400
