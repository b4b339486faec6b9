"""The embedded default (`make run`): its web worker points the sandbox's WeChat Pay callbacks at itself and
runs the payout and webhook workers in threads, so a confirmed transfer and a queued event are settled and
posted within seconds; it prints where the sandbox's transfers page is.

Gunicorn itself is not started: config/gunicorn.py's hook calls ``embedded.start`` with the worker's app and
bind, which these tests do with the test app served on a loopback port.
"""
from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from werkzeug.serving import make_server

from app.db import transaction
from app.payouts.models import PayoutStatus
from app.platform import embedded
from app.wechat import runtime
from app.webhooks import service as webhooks
from tests.masterdata_factories import ACTOR
from tests.payout_factories import fresh, user_acts, withdrawal


@pytest.fixture
def served(app):
    """This app on a loopback port, as gunicorn would serve it; its bind."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def sandbox(app):
    server = runtime().sandbox_server()
    yield server
    requests.post(server.url + "/__sandbox__/reset", timeout=5)


def until(check, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    return check()


@pytest.mark.parametrize(("bind", "url"), [
    ("127.0.0.1:8000", "http://127.0.0.1:8000/api/payouts/wechat/notify"),
    ("0.0.0.0:8080", "http://127.0.0.1:8080/api/payouts/wechat/notify"),
    ("[::1]:8000", "http://[::1]:8000/api/payouts/wechat/notify"),
    ("unix:/run/matong.sock", None),
])
def test_the_notify_url_is_this_server_as_the_sandbox_reaches_it(bind, url):
    assert embedded.notify_url(bind) == url


def test_start_points_the_callbacks_here_and_prints_the_transfers_page(app, sandbox, monkeypatch):
    monkeypatch.setitem(app.config, "WECHATPAY_NOTIFY_URL", None)
    printed = []
    started = embedded.start(app, bind="0.0.0.0:8000", payouts=False, webhooks=False, echo=printed.append)
    assert app.config["WECHATPAY_NOTIFY_URL"] == "http://127.0.0.1:8000/api/payouts/wechat/notify"
    assert started.threads == []
    page = f"{sandbox.url}/__sandbox__/transfers"
    assert any(page in line for line in printed), printed
    answer = requests.get(page, timeout=5)
    assert answer.status_code == 200 and "No transfer bill yet" in answer.text


def test_a_notify_url_set_in_the_environment_is_kept(app, sandbox, monkeypatch):
    monkeypatch.setitem(app.config, "WECHATPAY_NOTIFY_URL", "https://pay.example.com/api/payouts/wechat/notify")
    embedded.start(app, bind="127.0.0.1:8000", payouts=False, webhooks=False, echo=lambda line: None)
    assert app.config["WECHATPAY_NOTIFY_URL"] == "https://pay.example.com/api/payouts/wechat/notify"


def test_the_threads_pay_a_confirmed_transfer_and_post_a_queued_event_within_seconds(
        app, served, sandbox, receiver, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "WECHATPAY_NOTIFY_URL", None)
    hook = receiver(200)
    with transaction():
        webhooks.create_endpoint(actor=ACTOR, url=hook.url, event_types=["order.closed"])
    requested = withdrawal()
    started = embedded.start(app, bind=served, echo=lambda line: None)
    try:
        assert [t.name for t in started.threads] == ["payouts-thread", "webhooks-thread"]
        # The payout thread makes the transfer bill; the user confirms it in the sandbox; the sandbox's
        # callback reaches this server and settles the payout: no 10-minute query in between.
        waiting = until(lambda: (p := fresh(requested.payout_id)).status is PayoutStatus.WAITING and p)
        assert waiting, fresh(requested.payout_id).status
        user_acts(sandbox, waiting.out_bill_no)
        assert until(lambda: fresh(requested.payout_id).status is PayoutStatus.SUCCEEDED), \
            fresh(requested.payout_id).status

        with transaction():
            event_id = webhooks.emit("order.closed", {"order_no": "SO-1"}).event_id
        assert until(lambda: hook.requests), "the webhook thread posted nothing"
        (request,) = hook.requests
        assert json.loads(request["body"])["event_id"] == event_id
    finally:
        started.close()
    assert not any(t.is_alive() for t in started.threads)
