"""Demo data for the embedded default: a small brand with its chain, and a code batch.

Seeding is idempotent: master data is upserted by external id, users and the batch are made once.
Then the whole chain is played through the HTTP API (`app.demo_chain`): every seed plays it again
with fresh codes, its own lot, campaign and mini-program users, so nothing of an earlier play is
touched or duplicated.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from datetime import date, datetime, timedelta, timezone

from app import demo_chain
from app.codes import export_jobs
from app.codes import service as codes
from app.codes.models import CodeBatch, Level
from app.db import transaction
from app.extensions import db
from app.identity import service as identity
from app.identity.models import AdminUser, Role
from app.masterdata import bulk_upserts, places
from app.masterdata.models import Product, ProductionLine, Warehouse
from app.production import service as production
from app.production.models import ProductionLot
from app.units import line_engine, line_sessions
from app.units.models import LineSession, SessionStatus
from app.warehouse import service as warehouse

ACTOR = identity.Actor.system("demo")
DEMO_BATCH_SIZE = 1_000
# The demo's first shift: the batch commissioned into one lot, packed 24 to a case, the cases onto
# one pallet, the pallet received into the factory warehouse.
DEMO_LOT = {"external_id": "DEMO-LOT-001", "lot_no": "20261101A", "production_date": date(2026, 11, 1),
            "shift": "A"}
SHIFT_START = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)

PRODUCTS = [
    {"external_id": "DEMO-SKU-001", "sku": "MT-TEA-500", "name": "明前龙井 500ml 茶饮",
     "gtin": "6901234560015", "specification": "500ml × 1 bottle", "units_per_case": 24,
     "cases_per_pallet": 50, "shelf_life_days": 365,
     "description": "Cold-brewed Longjing green tea from Hangzhou.",
     "image_url": "https://m.example.com/img/tea-500.png"},
    {"external_id": "DEMO-SKU-002", "sku": "MT-MILK-250", "name": "高钙儿童奶 250ml",
     "gtin": "6901234560022", "specification": "250ml × 1 carton", "units_per_case": 12,
     "cases_per_pallet": 80, "shelf_life_days": 180,
     "description": "Calcium-enriched milk for children."},
    {"external_id": "DEMO-SKU-003", "sku": "MT-BAIJIU-500", "name": "窖藏白酒 52度 500ml",
     "gtin": "6901234560039", "specification": "500ml × 1 bottle, 52% vol", "units_per_case": 6,
     "cases_per_pallet": 40, "shelf_life_days": None,
     "description": "Cellar-aged baijiu; scan the cap to verify."},
]
FACTORIES = [{"external_id": "DEMO-FAC-HZ", "name": "杭州滨江工厂", "address": "滨江区江南大道 1 号",
              "region_code": "330108000000"}]
WAREHOUSES = [{"external_id": "DEMO-WH-HZ", "name": "杭州成品仓", "factory_external_id": "DEMO-FAC-HZ",
               "address": "滨江区江南大道 1 号 3 号库", "region_code": "330108000000"}]
DEALERS = [
    {"external_id": "DEMO-DLR-ZJ", "name": "浙江省总代理", "territory": ["330000000000"],
     "contacts": [{"name": "王经理", "phone": "13800000001", "title": "总经理"}]},
    {"external_id": "DEMO-DLR-HZ", "name": "杭州市经销商", "parent_external_id": "DEMO-DLR-ZJ",
     "territory": ["330100000000"], "contacts": [{"name": "李经理", "phone": "13800000002"}]},
    {"external_id": "DEMO-DLR-JS", "name": "江苏省总代理", "territory": ["320000000000"],
     "contacts": [{"name": "张经理", "phone": "13800000003", "title": "总经理"}]},
    {"external_id": "DEMO-DLR-NJ", "name": "南京市经销商", "parent_external_id": "DEMO-DLR-JS",
     "territory": ["320100000000"], "contacts": [{"name": "赵经理", "phone": "13800000004"}]},
]
STORES = [
    {"external_id": "DEMO-STO-HZ1", "name": "西湖便利店", "address": "西湖区文三路 100 号",
     "region_code": "330106000000", "longitude": 120.130194, "latitude": 30.259463,
     "dealer_external_ids": ["DEMO-DLR-HZ"]},
    {"external_id": "DEMO-STO-HZ2", "name": "滨江生活超市", "address": "滨江区网商路 200 号",
     "region_code": "330108000000", "dealer_external_ids": ["DEMO-DLR-HZ"]},
    {"external_id": "DEMO-STO-NJ1", "name": "鼓楼烟酒店", "address": "鼓楼区中山路 300 号",
     "region_code": "320106000000", "longitude": 118.770182, "latitude": 32.066601,
     "dealer_external_ids": ["DEMO-DLR-NJ"]},
    {"external_id": "DEMO-STO-NJ2", "name": "秦淮百货", "address": "秦淮区夫子庙 400 号",
     "region_code": "320104000000", "dealer_external_ids": ["DEMO-DLR-NJ"]},
]


PASSWORDS_FILE = "demo-passwords.json"


def _passwords_path() -> Path:
    return Path(current_app.config["VAR_DIR"]) / PASSWORDS_FILE


def _database_key() -> str:
    """Which database a kept password belongs to (its URL without the password, hashed)."""
    return hashlib.sha256(db.engine.url.render_as_string(hide_password=True).encode()).hexdigest()[:16]


def demo_password(*, new: bool = False) -> tuple[str, bool]:
    """The demo users' password for this database, and whether it was made just now.

    DEMO_PASSWORD if set; else the one made for this database on its first seed, kept in
    var/demo-passwords.json (0600) so later seeds (and `flask demo password`) know it. A password in
    the code would open every demo that is ever reachable from outside.
    """
    if os.environ.get("DEMO_PASSWORD"):
        return os.environ["DEMO_PASSWORD"], False
    path = _passwords_path()
    kept = json.loads(path.read_text()) if path.exists() else {}
    if not new and _database_key() in kept:
        return kept[_database_key()], False
    kept[_database_key()] = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, aside = tempfile.mkstemp(dir=path.parent, prefix=".demo-")  # mkstemp creates it 0600
    with os.fdopen(fd, "w") as file:
        json.dump(kept, file)
    os.replace(aside, path)
    return kept[_database_key()], True


def reset_password() -> str:
    """A new password for every demo user of this database (the `flask demo password --reset`)."""
    _refuse_production()
    password, _ = demo_password(new=True)
    with transaction():
        for role in Role:
            _demo_user(role, password)
    return password


def _refuse_production() -> None:
    if current_app.config["MATONG_ENV"] == "production":
        raise RuntimeError("demo data is not seeded in production")


def seed() -> dict:
    """Create or refresh the demo brand; returns what a newcomer needs to look at it."""
    _refuse_production()
    password, new_password = demo_password()
    with transaction():
        users = [_demo_user(role, password) for role in Role]
        bulk_upserts.bulk_upsert_products(actor=ACTOR, records=PRODUCTS)
        bulk_upserts.bulk_upsert_factories(actor=ACTOR, records=FACTORIES)
        factory = places.list_factories(external_id="DEMO-FAC-HZ")
        factory_id = db.session.scalars(factory).one().id
        if not db.session.scalars(places.list_production_lines(factory_id=factory_id)).first():
            places.create_production_line(actor=ACTOR, data={
                "factory_id": factory_id, "code": "L1", "name": "灌装一线", "mode": "auto"})
        bulk_upserts.bulk_upsert_warehouses(actor=ACTOR, records=WAREHOUSES)
        bulk_upserts.bulk_upsert_dealers(actor=ACTOR, records=DEALERS)
        bulk_upserts.bulk_upsert_stores(actor=ACTOR, records=STORES)
        batch, job = _demo_batch()
    if job is not None:
        export_jobs.run_export(job_id=job.id)
    with transaction():
        factory_run = _first_shift(batch)
    sample = next(iter(codes.sample_labels(actor=ACTOR, batch_id=batch.id, limit=1)[1]), None)
    db.session.commit()  # the sample's audit record
    users = [u.username for u in users]
    chain = demo_chain.play(password=password)
    return {"users": users, "password": password, "new_password": new_password, "batch": batch,
            "sample_code": sample[0] if sample else None, **factory_run, "chain": chain}


def _demo_user(role: Role, password: str) -> AdminUser:
    username = f"demo-{role.value}"
    user = db.session.scalar(sa.select(AdminUser).where(AdminUser.username == username))
    if user is None:
        return identity.create_user(actor=ACTOR, username=username, password=password, role=role,
                                    display_name=f"Demo {role.value}")
    # The kept password and role every run, so what `make run` prints is always true.
    identity.update_user(actor=ACTOR, user_id=user.id,
                         changes={"password": password, "is_active": True, "role": role})
    identity.unlock_user(actor=ACTOR, user_id=user.id)
    return user


def _demo_batch():
    product = db.session.scalar(sa.select(Product).where(Product.external_id == "DEMO-SKU-001"))
    batch = db.session.scalar(sa.select(CodeBatch).where(CodeBatch.product_id == product.id)
                              .order_by(CodeBatch.id))
    if batch is not None:
        return batch, None
    return codes.issue_batch(actor=ACTOR, product_id=product.id, level="item",
                             count=DEMO_BATCH_SIZE, hidden_code_digits=6)


def _issued(product_id: int, level: Level, count: int) -> CodeBatch:
    batch = db.session.scalar(sa.select(CodeBatch).where(CodeBatch.product_id == product_id,
                                                         CodeBatch.level == level).order_by(CodeBatch.id))
    return batch or codes.issue_batch(actor=ACTOR, product_id=product_id, level=level.value, count=count)[0]


def _first_shift(items: CodeBatch) -> dict:
    """Commission, pack and receive the demo batch through the line and warehouse engines.

    Record ids are fixed, so seeding again finds every record applied and changes nothing.
    """
    line = db.session.scalar(sa.select(ProductionLine).where(ProductionLine.code == "L1"))
    product = items.product
    lot = db.session.scalar(sa.select(ProductionLot).where(ProductionLot.external_id == DEMO_LOT["external_id"]))
    lot = lot or production.create_production_lot(actor=ACTOR, data={
        **DEMO_LOT, "product_id": product.id, "factory_id": line.factory_id, "line_id": line.id})
    per_case = product.units_per_case
    case_count = -(-items.count // per_case)
    cases = _issued(product.id, Level.CASE, case_count)
    pallets = _issued(product.id, Level.PALLET, 1)
    ring = codes.keyring()
    item_codes = [ring.encode(items.serial_start + i, items.key_version) for i in range(items.count)]
    case_codes = [ring.encode(cases.serial_start + i, cases.key_version) for i in range(case_count)]
    pallet = ring.encode(pallets.serial_start, pallets.key_version)
    session = db.session.scalar(sa.select(LineSession).where(
        LineSession.line_id == line.id, LineSession.lot_id == lot.id, LineSession.status == SessionStatus.OPEN))
    session = session or line_sessions.start_session(actor=ACTOR, line_id=line.id, lot_id=lot.id, operator="demo")
    tick = iter(range(10**6))

    def at():
        return SHIFT_START + timedelta(seconds=next(tick))

    records = [{"type": "commission", "record_id": "demo-commission", "scanned_at": at(),
                "code": item_codes[0], "last_code": item_codes[-1]}]
    records += [{"type": "pack", "record_id": f"demo-pack-{i}", "scanned_at": at(), "code": code,
                 "parent": case_codes[i // per_case], "partial": i // per_case == case_count - 1
                 and items.count % per_case != 0} for i, code in enumerate(item_codes)]
    records += [{"type": "pack", "record_id": f"demo-palletise-{j}", "scanned_at": at(), "code": code,
                 "parent": pallet} for j, code in enumerate(case_codes)]
    results = line_engine.apply_records(actor=ACTOR, session_id=session.id, records=records)
    finished_goods = db.session.scalar(sa.select(Warehouse).where(Warehouse.external_id == "DEMO-WH-HZ"))
    warehouse.apply_scans(actor=ACTOR, records=[{
        "record_id": "demo-inbound-pallet", "scanned_at": at(), "action": "inbound", "code": pallet,
        "warehouse_id": finished_goods.id, "source": "line"}])
    refused = [r for r in results if r.status == "rejected"]
    if refused:
        raise RuntimeError(f"the demo's line records were refused: {refused[:3]}")
    return {"lot": lot, "pallet_code": pallet, "case_count": case_count, "warehouse": finished_goods}
