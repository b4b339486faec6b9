"""Fault-run helper: make money move on a running stack, then check the money invariants.

Runs against the stack the environment points at (DATABASE_URL, REDIS_URL, WECHAT_SANDBOX_URL, the
app's URL with --app), never wipes anything:

    bench/payout_invariants.py prizes --count 40 --app http://127.0.0.1:8016
        N codes commissioned at a store, a cash campaign (every draw wins PRIZE_FEN), N consumers
        signed in through the sandbox, each scans its own code and claims: N prize payouts.
    bench/payout_invariants.py withdrawals --count 10
        N clerks credited EARNED_FEN each, each withdraws WITHDRAW_FEN: N withdrawal payouts.
    bench/payout_invariants.py check
        the invariants (exit 1 when one breaks):
        - each campaign: spent_fen = cash of its live prize draws (payout not failed/cancelled)
          less what `unrecovered` incidents name (open or resolved: the money left either way);
        - each clerk: balance + in flight + paid = earned (plus the same);
        - no bill at the sandbox is payable or paid for a payout whose status is failed/cancelled;
        - at most one bill per payout (bills are keyed by the payout's number; a number beyond our
          highest payout id with a bill would be a bill of no payout's).
    bench/payout_invariants.py status
        payouts by status, incidents by kind, the bills' states.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PRIZE_FEN = 100
EARNED_FEN = 1000
WITHDRAW_FEN = 300
PAYABLE_OR_PAID = ("ACCEPTED", "PROCESSING", "TRANSFERING", "WAIT_USER_CONFIRM", "CANCELING", "SUCCESS")
_app = None


def app():
    global _app
    if _app is None:
        import logging

        from app import create_app

        logging.disable(logging.WARNING)
        _app = create_app()
    return _app


def sandbox_url() -> str:
    return os.environ["WECHAT_SANDBOX_URL"].rstrip("/")


def bill_state(out_bill_no: str) -> str | None:
    """The sandbox's state of a transfer bill (its confirm page), or None when it has none."""
    page = requests.get(f"{sandbox_url()}/__sandbox__/transfers/{out_bill_no}", timeout=10)
    if page.status_code == 404:
        return None
    found = re.search(r'<strong id="state">([A-Z_]+)</strong>', page.text)
    return found.group(1) if found else "?"


# --- making money move -----------------------------------------------------------------------

def make_prizes(count: int, app_url: str, budget_prizes: int | None = None) -> None:
    import sqlalchemy as sa

    from app.campaigns import service as campaigns
    from app.codes import service as codes
    from app.codes.models import Level
    from app.db import transaction, utcnow
    from app.extensions import db
    from app.identity.service import Actor
    from app.masterdata import dealers, stores
    from app.units import unit_rows
    from app.units.models import EventKind, LocationKind, Unit, UnitStatus
    from bench.common import product_line_lot

    actor = Actor.system("attack")
    tag = uuid.uuid4().hex[:6].upper()
    at = datetime.now(UTC) - timedelta(days=3)
    now = datetime.now(UTC)
    with app().app_context():
        with transaction():
            product, _factory, line, lot = product_line_lot(actor, sku=f"ATK-{tag}", specification="1")
            dealer = dealers.create_dealer(actor=actor, data={"name": f"Attack dealer {tag}",
                                                              "territory": ["330100000000"]})
            shop = stores.create_store(actor=actor, data={"name": f"Attack store {tag}",
                                                          "region_code": "330106000000"})
        with transaction():
            batch, _ = codes.issue_batch(actor=actor, product_id=product.id, level="item", count=count)
        keyring = codes.keyring()
        units = [unit_rows.UnitState(batch.serial_start + i, batch.key_version, batch.id, Level.ITEM, product.id,
                                 lot.id, UnitStatus.ACTIVE, None, 0, False, LocationKind.STORE, shop.id, False,
                                 None, None, None, at) for i in range(count)]
        with transaction():
            unit_rows.insert_units(units)
            unit_rows.write_events([unit_rows.event_row(
                kind=EventKind.COMMISSION, serial=u.serial, lot_id=lot.id, occurred_at=at, recorded_at=utcnow(),
                location_kind=LocationKind.LINE, location_id=line.id, source="attack") for u in units])
        with transaction():
            db.session.execute(sa.update(Unit).where(Unit.batch_id == batch.id).values(last_dealer_id=dealer.id))
        with transaction():
            campaign = campaigns.create_campaign(actor=actor, data={
                "name": f"Attack {tag}", "starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(days=2),
                "total_budget_fen": (budget_prizes or count) * PRIZE_FEN, "per_user_daily_limit": 1, "per_user_total_limit": 1,
                "first_scan_only": True, "product_ids": [product.id],
                "prizes": [{"kind": "cash", "name": "Red packet", "amount": PRIZE_FEN, "probability_ppm": 1_000_000}]})
        with transaction():
            campaigns.change_status(actor=actor, campaign_id=campaign.id, action="activate")
        code_texts = [keyring.encode(batch.serial_start + i, batch.key_version) for i in range(count)]
        campaign_id = campaign.id
    session = requests.Session()
    statuses: dict[int, int] = {}

    def one(code: str) -> int:
        login = session.post(f"{app_url}/api/consumer/auth/login",
                             json={"code": f"sandbox:atk-{tag}-{code[-6:]}:{uuid.uuid4().hex[:6]}"}, timeout=30)
        if login.status_code != 200:
            return login.status_code
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        scan = session.post(f"{app_url}/api/consumer/scans", json={"code": code}, headers=headers, timeout=30)
        if scan.status_code != 201:
            print("scan", scan.status_code, scan.text[:200])
            return scan.status_code
        claim = session.post(f"{app_url}/api/consumer/scans/{scan.json()['scan_id']}/claim",
                             json={"campaign_id": campaign_id}, headers=headers, timeout=30)
        if claim.status_code != 201:
            print("claim", claim.status_code, claim.text[:200])
        return claim.status_code

    with ThreadPoolExecutor(8) as pool:
        for status in pool.map(one, code_texts):
            statuses[status] = statuses.get(status, 0) + 1
    print(f"campaign {campaign_id}: {count} claims: {statuses}")


def make_withdrawals(count: int) -> None:
    from app.accounts.models import AppName, AppUser, Person
    from app.db import transaction
    from app.extensions import db
    from app.retail import ledger, withdrawals

    made = []
    with app().app_context():
        for _ in range(count):
            with transaction():
                person = Person()
                db.session.add(person)
                db.session.flush()
                user = AppUser(app=AppName.CLERK, openid=f"o-attack-clerk-{uuid.uuid4().hex[:12]}", person_id=person.id)
                db.session.add(user)
                db.session.flush()
                ledger.credit(app_user_id=user.id, kind="cash", amount=EARNED_FEN, source=f"adjust:attack-{user.id}")
            with transaction():
                withdrawal = withdrawals.request_withdrawal(user=user, amount=WITHDRAW_FEN, request_id=uuid.uuid4().hex)
                made.append(withdrawal.id)
    print(f"{len(made)} withdrawals of {WITHDRAW_FEN} fen requested")


def make_due(age_hours: float) -> None:
    """Every open payout due now (and its bill aged age_hours, so a waiting one is past its window)."""
    import sqlalchemy as sa

    from app.db import transaction, utcnow
    from app.extensions import db
    from app.payouts.models import Payout
    from app.payouts.worker import ACTIVE

    with app().app_context(), transaction():
        values = {"next_attempt_at": utcnow() - timedelta(seconds=1)}
        if age_hours:
            values["bill_created_at"] = utcnow() - timedelta(hours=age_hours)
        changed = db.session.execute(sa.update(Payout).where(Payout.status.in_(ACTIVE)).values(**values)).rowcount
    print(f"{changed} open payouts due now")


# --- the invariants --------------------------------------------------------------------------

def violations() -> tuple[list[str], dict]:
    import sqlalchemy as sa

    from app.extensions import db
    from app.payouts.models import Payout
    from tests.money_invariants import RETURNED, ledger_violations

    with app().app_context():
        found = ledger_violations()
        payouts = db.session.execute(sa.select(Payout.id, Payout.out_bill_no, Payout.status, Payout.channel)).all()
        top = max((p.id for p in payouts), default=0)
        db.session.rollback()
    states: dict[str, int] = {}
    with ThreadPoolExecutor(8) as pool:
        bills = list(pool.map(lambda p: (p, bill_state(p.out_bill_no)),
                              [p for p in payouts if p.channel.value == "transfer"]))
    for payout, state in bills:
        states[state or "none"] = states.get(state or "none", 0) + 1
        if payout.status in RETURNED and state in PAYABLE_OR_PAID:
            found.append(f"payout {payout.id} is {payout.status.value} (money returned) but its bill is {state}")
    for stray in range(top + 1, top + 21):  # a bill under a number no payout has yet
        from app.payouts.models import PayoutChannel
        from app.payouts.queue import bill_number

        if bill_state(bill_number(stray, PayoutChannel.TRANSFER)) is not None:
            found.append(f"bill {bill_number(stray, PayoutChannel.TRANSFER)}: no payout has this number")
    return found, states


def status() -> dict:
    import sqlalchemy as sa

    from app.extensions import db
    from app.payouts.models import Payout, PayoutIncident

    with app().app_context():
        payouts = {s.value: n for s, n in db.session.execute(
            sa.select(Payout.status, sa.func.count()).group_by(Payout.status)).all()}
        incidents = [f"{k.value}{'' if r else '(resolved)'}:{n}" for k, r, n in db.session.execute(
            sa.select(PayoutIncident.kind, PayoutIncident.resolved_at.is_(None).label("r"), sa.func.count())
            .group_by(PayoutIncident.kind, sa.text("r"))).all()]
    return {"payouts": payouts, "incidents": incidents}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("prizes", "withdrawals", "check", "status", "due"))
    parser.add_argument("--age-hours", type=float, default=0, help="due: also age the bills by this much")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--budget-prizes", type=int, default=None, help="prizes: the budget pays this many")
    parser.add_argument("--app", default=os.environ.get("APP_URL", "http://127.0.0.1:8016"))
    args = parser.parse_args()
    if args.what == "prizes":
        make_prizes(args.count, args.app, args.budget_prizes)
    elif args.what == "withdrawals":
        make_withdrawals(args.count)
    elif args.what == "due":
        make_due(args.age_hours)
    elif args.what == "status":
        print(json.dumps(status()))
    else:
        found, states = violations()
        print(json.dumps({**status(), "bills": states}))
        for line in found:
            print(f"VIOLATION {line}")
        print(f"invariants: {len(found)} violation(s)")
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
