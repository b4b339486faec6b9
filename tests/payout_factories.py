"""Payouts for tests: users, prizes and withdrawals queued, the sandbox user acting, and the money invariants."""
from __future__ import annotations

import itertools
import threading
from datetime import datetime, timedelta

import pytest
import requests
import sqlalchemy as sa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app.accounts.models import AppName, AppUser, Person
from app.db import transaction, utcnow
from app.extensions import db
from app.payouts import queue, worker
from app.payouts.models import Payout, PayoutPurpose, PayoutRef
from app.retail import ledger, withdrawals
from app.retail.models import (
    RewardBalance,
    RewardKind,
    Withdrawal,
)
from app.wechat import pay
from app.wechat.sandbox import pay as sandbox_pay
from tests.money_invariants import RETURNED, ledger_violations

NOTIFY = "/api/payouts/wechat/notify"
_names = itertools.count(1)
_draw_ids = itertools.count(10 ** 12)  # draws no test makes: a prize payout of its own for each


class Killed(BaseException):
    """The worker process dies (not an Exception: nothing in the worker catches it)."""


def worker_killed_after_create(monkeypatch) -> None:
    """Run the worker once; it dies right after WeChat made the bill, before recording it; then it restarts."""
    real = pay.create_transfer

    def created_then_killed(**kwargs):
        real(**kwargs)
        raise Killed("killed before recording the bill")

    monkeypatch.setattr(pay, "create_transfer", created_then_killed)
    with pytest.raises(Killed):
        worker.work_due()
    monkeypatch.undo()  # the worker restarts
    db.session.rollback()


def make_user(app: AppName = AppName.CONSUMER) -> AppUser:
    with transaction():
        person = Person()
        db.session.add(person)
        db.session.flush()
        user = AppUser(app=app, openid=f"o-payout-{next(_names)}-{person.id}", person_id=person.id)
        db.session.add(user)
    return user


def prize(user: AppUser, amount: int = 88, draw_id: int | None = None, **kwargs) -> Payout:
    with transaction():
        source = PayoutRef(PayoutPurpose.PRIZE, next(_draw_ids) if draw_id is None else draw_id)
        return queue.enqueue(source=source, app_user=user, amount_fen=amount, **kwargs)


@pytest.fixture
def payouts():
    """Three prize payouts of one consumer: 12.34, 0.05 and 1000.00 yuan."""
    user = make_user()
    return [prize(user, amount=amount) for amount in (1234, 5, 100000)]


def withdrawal(amount: int = 300, cash: int = 500, request_id: str = "w-1") -> Withdrawal:
    user = make_user(AppName.CLERK)
    with transaction():
        ledger.credit(app_user_id=user.id, kind="cash", amount=cash, source=f"adjust:{user.id}")
        return withdrawals.request_withdrawal(user=user, amount=amount, request_id=request_id)


def cash(app_user_id: int) -> int:
    db.session.rollback()  # a fresh snapshot (MariaDB: repeatable read)
    return db.session.scalar(sa.select(RewardBalance.balance).where(
        RewardBalance.app_user_id == app_user_id, RewardBalance.kind == RewardKind.CASH)) or 0


def fresh(payout_id: int) -> Payout:
    db.session.rollback()  # a fresh snapshot (MariaDB: repeatable read)
    return db.session.get(Payout, payout_id)


def later(**delta) -> datetime:
    return utcnow() + timedelta(**delta)


def bills(sandbox, openid: str) -> list:
    return [b for b in sandbox_pay.pay_state(sandbox.state).bills.values() if b.params["openid"] == openid]


def user_acts(sandbox, out_bill_no: str, action: str = "confirm") -> None:
    response = requests.post(f"{sandbox.url}/__sandbox__/transfers/{out_bill_no}/{action}", timeout=5)
    assert response.status_code == 200, response.text


class NotifyReceiver:
    """Our notify_url in a test: a werkzeug server on loopback that records every callback."""

    def __init__(self):
        self.received: list[tuple[dict, bytes]] = []
        self.answers: list[int] = []  # statuses to answer, in turn; then 200
        self._cond = threading.Condition()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/notify"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @Request.application
    def _wsgi(self, request: Request) -> Response:
        with self._cond:
            self.received.append((dict(request.headers), request.get_data()))
            status = self.answers.pop(0) if self.answers else 200
            self._cond.notify_all()
        return Response(status=status)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[dict, bytes]]:
        """The callbacks received once there are <count> of them (or the timeout passed)."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) >= count, timeout=timeout)
            return list(self.received)

    def stop(self):
        self._server.shutdown()


@pytest.fixture
def notify_receiver():
    """Our notify_url, served on loopback for the test."""
    server = NotifyReceiver()
    yield server
    server.stop()


def forward(client, received) -> list[int]:
    """Post the callbacks the sandbox sent to our notify endpoint, as WeChat would; their statuses."""
    return [client.post(NOTIFY, data=body, headers=headers).status_code for headers, body in received]


@pytest.fixture
def notify_to(app, notify_receiver, monkeypatch):
    """WeChat Pay's callbacks go to the notify receiver; it."""
    monkeypatch.setitem(app.config, "WECHATPAY_NOTIFY_URL", notify_receiver.url)
    return notify_receiver


# --- the invariants every fault scenario ends with -------------------------------------------------

def money_violations(sandbox) -> list[str]:
    """What breaks the money rules, in words (empty when they hold): tests/money_invariants.py in the
    database, and at the sandbox: no bill is payable or paid for a payout whose money was returned, and
    no bill is under a number that is not a payout's (bills are keyed by number: one per payout)."""
    db.session.rollback()  # a fresh snapshot (MariaDB: repeatable read)
    found = ledger_violations()
    ours = {p.out_bill_no: p for p in db.session.scalars(sa.select(Payout))}
    for bill in list(sandbox_pay.pay_state(sandbox.state).bills.values()):
        payout = ours.get(bill.out_bill_no)
        if payout is None:
            found.append(f"bill {bill.out_bill_no}: no payout has this number")
        elif payout.status in RETURNED and bill.state not in ("FAIL", "CANCELLED"):
            found.append(f"payout {payout.id} is {payout.status.value} (money returned) but its bill is {bill.state}")
    return found
