"""Consumer scans for tests: signed-in consumers, commissioned goods, hidden-code units, and the scan call."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AppName, AppUser
from app.campaigns import service as campaigns
from app.codes import service as codes
from app.codes.models import Level
from app.db import transaction
from app.extensions import db
from app.flows import consumer_scans
from app.units import unit_rows
from app.units.models import LocationKind
from tests.masterdata_factories import ACTOR, XIHU, gtin13, make_factory, make_product
from tests.production_factories import make_production_lot
from tests.unit_factories import _state, commission

NOW = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
BEIJING_POS = (39.93, 116.42)  # Dongcheng
HANGZHOU_POS = (30.26, 120.13)  # West Lake


@pytest.fixture
def users(mp):
    """Make consumers signed in through the mini-program sandbox: `users()` is a new one each call."""
    made = []

    def make():
        name = mp.new_name()
        mp.sign_in("consumer", name)
        user = db.session.scalar(sa.select(AppUser).where(AppUser.app == AppName.CONSUMER,
                                                          AppUser.openid == mp.openid("consumer", name)))
        made.append(user)
        return user
    return make


@pytest.fixture
def goods():
    """Six commissioned units of a jasmine tea lot made in Hangzhou (the consumer scans' goods)."""
    product = make_product(name="Jasmine Tea", specification="250 g", gtin=gtin13(4242),
                           image_url="https://img.example.com/tea.png")
    factory = make_factory(region_code=XIHU)
    lot = make_production_lot(product_id=product.id, factory_id=factory.id, lot_no="L2026-03",
                              expiry_date=date(2027, 3, 2))
    items = commission(lot, 6)
    return {"product": product, "lot": lot, "items": items}


def scan(user, text, **kw):
    """A consumer scan of <text> at NOW unless told, committed."""
    kw.setdefault("now", NOW)
    with transaction():
        return consumer_scans.scan(user=user, text=text, **kw)


def short(code):
    """The printed short URL of a code."""
    return f"https://m.example.com/c/{code}"


@pytest.fixture
def hidden(app):
    """Two units of a batch with six-digit hidden codes, and their right codes."""
    product = make_product()
    lot = make_production_lot(product_id=product.id)
    with transaction():
        batch, _ = codes.issue_batch(actor=ACTOR, product_id=product.id, level="item", count=2, hidden_code_digits=6)
    ring = codes.keyring()
    code = ring.encode(batch.serial_start, batch.key_version)
    other = ring.encode(batch.serial_start + 1, batch.key_version)
    with transaction():
        unit_rows.insert_units([_state(batch, c, level=Level.ITEM, product_id=product.id, lot_id=lot.id,
                                   location_kind=LocationKind.LINE, location_id=None, at=NOW) for c in (code, other)])
    return {"code": code, "other": other, "right": ring.hidden_code(batch.serial_start, 6),
            "right_other": ring.hidden_code(batch.serial_start + 1, 6)}


def hidden_code_campaign(**data):
    """An active campaign whose draws need the hidden code (one cash prize that always wins)."""
    with transaction():
        created = campaigns.create_campaign(actor=ACTOR, data={
            "name": "Scratch and win", "starts_at": NOW - timedelta(days=1),
            "ends_at": datetime.now(UTC) + timedelta(days=30), "total_budget_fen": 10_000,
            "per_user_daily_limit": 5, "per_user_total_limit": 5, "first_scan_only": False,
            "hidden_code_required": True,
            "prizes": [{"kind": "cash", "name": "Red packet", "amount": 88, "probability_ppm": 1_000_000}], **data})
    with transaction():
        return campaigns.change_status(actor=ACTOR, campaign_id=created.id, action="activate")


def prove(user, scan_id, digits, **kw):
    """A consumer's hidden-code step on a scan made, at NOW unless told, committed."""
    kw.setdefault("now", NOW)
    with transaction():
        return consumer_scans.prove_hidden_code(user=user, scan_id=scan_id, hidden_code=digits, **kw)


@pytest.fixture
def streamed(app, monkeypatch):
    """Scans go to the Redis stream and the scan-log worker writes them, as with a Redis server."""
    monkeypatch.setitem(app.config, "CONSUMER_SCAN_WRITER", "stream")


def written_scans() -> list:
    """The consumer scans in the database, by id (read afresh)."""
    from app.consumers.models import ConsumerScan

    db.session.expire_all()
    return list(db.session.scalars(sa.select(ConsumerScan).order_by(ConsumerScan.id)))
