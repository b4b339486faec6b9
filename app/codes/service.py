"""Code issuance use cases: issue, resolve and void batches; request code packs (``app.codes.export_jobs``
runs them); label URLs."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from app.codes import export as packs
from app.codes.errors import (
    BatchNotFound, BatchVoided, CodeNotFound, CountOutOfRange, HiddenCodeInvalid, LevelInvalid, PasswordTooShort,
    ProductInactive, ProductUnknown, SerialsExhausted,
)
from app.codes.format import MAX_SERIAL, CodeKeyring, InvalidCode
from app.codes.models import BatchStatus, CodeBatch, CodeCounter, ExportJob, Level
from app.db import upsert, utcnow
from app.errors import Conflict
from app.extensions import db, redis
from app.identity.service import Actor, audit
from app.masterdata.models import Product, Status
from app.platform.filters import Filters
from app.reports import facts, rollups

# Passwords of encrypted exports travel to a worker through Redis, never through the database.
PASSWORD_KEY = "codes:export-password:{job_id}"
PASSWORD_TTL_SECONDS = 15 * 60


_keyrings: dict[tuple, CodeKeyring] = {}


def keyring() -> CodeKeyring:
    """The code keys of the current settings (built once per distinct setting)."""
    config = current_app.config
    setting = (config["CODE_KEYS"], config["CODE_KEY_VERSION"])
    ring = _keyrings.get(setting)
    if ring is None:
        ring = _keyrings[setting] = CodeKeyring.from_setting(*setting)
    return ring


@dataclass(frozen=True)
class LabelUrls:
    short: str
    digital_link: str | None
    sscc: str | None = None


def _url_base() -> str:
    return f"https://{current_app.config['LABEL_DOMAIN']}"


def _short_prefix() -> str:
    return f"{_url_base()}/{current_app.config['LABEL_PREFIX']}/"


def _digital_link_prefix(batch: CodeBatch) -> str | None:
    gtin = batch.product.gtin if batch.product is not None else None
    return f"{_url_base()}/01/{gtin}/21/" if gtin else None


def _sscc_number(batch: CodeBatch, serial: int) -> int | None:
    return None if batch.sscc_start is None else batch.sscc_start + (serial - batch.serial_start)


def label_urls(batch: CodeBatch, code: str, serial: int) -> LabelUrls:
    """The label URLs of a code: short form, GS1 Digital Link (/00/SSCC for pallets that have one)."""
    number = _sscc_number(batch, serial)
    if number is not None:
        sscc = packs.sscc_of(company_prefix=batch.sscc_company_prefix, number=number)
        return LabelUrls(_short_prefix() + code, f"{_url_base()}/00/{sscc}", sscc)
    prefix = _digital_link_prefix(batch)
    return LabelUrls(_short_prefix() + code, prefix + code if prefix else None)


def pack_spec(batch: CodeBatch) -> packs.PackSpec:
    return packs.PackSpec(
        batch_no=batch.batch_no, level=batch.level.value, key_version=batch.key_version,
        serial_start=batch.serial_start, count=batch.count, url_prefix=_short_prefix(),
        digital_link_prefix=_digital_link_prefix(batch), sscc_link_prefix=f"{_url_base()}/00/",
        hidden_code_digits=batch.hidden_code_digits,
        sscc_company_prefix=batch.sscc_company_prefix, sscc_start=batch.sscc_start,
    )


def _reserve(name: str, amount: int, *, first: int = 1) -> int:
    """Reserve `amount` consecutive values of a named counter; return the first.

    One statement creates the counter (from `first`) or moves it on, and holds the row's lock until the
    transaction ends: concurrent reservations queue up and never overlap (on a Galera cluster, of two
    nodes' reservations one is rolled back at COMMIT and runs again). No read comes first: a plain read
    would begin a snapshot that a counter another connection created could be missing from, and locking
    a missing row would take a gap lock on InnoDB. The value is read back as a column, never as an
    entity, so a stale object in the session can't hand out a value twice.
    """
    db.session.execute(upsert(CodeCounter.__table__, ["name"],
                              lambda table, _new: {"next_value": table.c.next_value + amount})
                       .values(name=name, next_value=first + amount))
    return db.session.scalar(sa.select(CodeCounter.next_value).where(CodeCounter.name == name)) - amount


def issue_batch(*, actor: Actor, product_id: int | None, level: str, count: int,
                hidden_code_digits: int | None = None, export_password: str | None = None
                ) -> tuple[CodeBatch, ExportJob]:
    """Reserve a serial range for count codes (one row, however many) and queue its export."""
    config = current_app.config
    try:
        level = Level(level)
    except ValueError:
        raise LevelInvalid(errors={"level": [f"one of {', '.join(l.value for l in Level)}"]}) from None
    maximum = config["CODE_BATCH_MAX"]
    if not isinstance(count, int) or not 1 <= count <= maximum:
        raise CountOutOfRange(f"A batch holds 1 to {maximum} codes.",
                              errors={"count": [f"between 1 and {maximum}"]})
    if hidden_code_digits is not None and (level is not Level.ITEM or hidden_code_digits not in (6, 7, 8)):
        raise HiddenCodeInvalid(errors={"hidden_code_digits": ["6 to 8, item level only"]})
    _check_password(export_password)
    product = None
    if product_id is not None:
        product = db.session.get(Product, product_id)
        if product is None:
            raise ProductUnknown(errors={"product_id": ["unknown"]})
        if product.status != Status.ACTIVE:
            raise ProductInactive(errors={"product_id": ["inactive"]})

    ring = keyring()
    serial_start = _reserve("serial", count)
    if serial_start + count - 1 > MAX_SERIAL:
        raise SerialsExhausted()
    company_prefix = config.get("GS1_COMPANY_PREFIX") if level is Level.PALLET else None
    sscc_start = None
    if company_prefix:
        sscc_start = _reserve("sscc", count, first=0)
        if sscc_start + count > packs.sscc_capacity(company_prefix):
            raise SerialsExhausted()
    number = _reserve("batch", 1)
    batch = CodeBatch(
        batch_no=f"CB{number:06d}", product=product, level=level, key_version=ring.current,
        serial_start=serial_start, count=count, hidden_code_digits=hidden_code_digits,
        sscc_company_prefix=company_prefix or None, sscc_start=sscc_start, created_by=actor.name,
    )
    db.session.add(batch)
    db.session.flush()
    rollups.add_all(facts.code_batch(batch))
    audit(actor, "code_batch.issue", batch, {
        "product_id": [None, product_id], "level": [None, level.value], "count": [None, count],
        "serial_start": [None, serial_start], "key_version": [None, ring.current],
        "hidden_code_digits": [None, hidden_code_digits],
    })
    job = _new_export(actor, batch, export_password)
    return batch, job


def get_batch(batch_id: int) -> CodeBatch:
    batch = db.session.get(CodeBatch, batch_id)
    if batch is None:
        raise BatchNotFound()
    return batch


_BATCH_FILTERS = Filters(
    product_id=lambda value: CodeBatch.product_id == value,
    level=lambda value: CodeBatch.level == Level(value),
    status=lambda value: CodeBatch.status == BatchStatus(value),
)


def list_batches(*, product_id: int | None = None, level: str | None = None, status: str | None = None):
    """A select of batches, newest first, for the paginator."""
    return _BATCH_FILTERS.apply(sa.select(CodeBatch).order_by(CodeBatch.id.desc()), product_id=product_id,
                                level=level, status=status)


def void_batch(*, actor: Actor, batch_id: int, reason: str) -> CodeBatch:
    """Void a batch: its codes then resolve as voided and it can no longer be exported."""
    batch = db.session.scalar(sa.select(CodeBatch).where(CodeBatch.id == batch_id).with_for_update())
    if batch is None:
        raise BatchNotFound()
    if batch.status is BatchStatus.VOIDED:
        raise Conflict("The batch is already voided.", code="batch_already_voided")
    batch.status, batch.voided_at, batch.void_reason = BatchStatus.VOIDED, utcnow(), reason
    rollups.add_all(facts.code_batch(batch, voided=True))
    audit(actor, "code_batch.void", batch, {"status": ["active", "voided"], "void_reason": [None, reason]})
    return batch


@dataclass(frozen=True)
class Resolution:
    code: str
    valid: bool
    status: str  # issued | voided | forged | malformed | not_issued
    reason: str | None = None
    key_version: int | None = None
    serial: int | None = None
    batch: CodeBatch | None = None
    urls: LabelUrls | None = None
    replaced_by: str | None = None  # voided because its label was replaced: the code that carries the unit on

    @property
    def product(self):
        return self.batch.product if self.batch is not None else None

    @property
    def level(self):
        return self.batch.level if self.batch is not None else None


def resolve_code(code: str) -> Resolution:
    """What a code is: arithmetic first (no database for malformed or forged codes), then its batch."""
    try:
        ident = keyring().decode(code)
    except InvalidCode as exc:
        status = "malformed" if exc.reason == "malformed" else "forged"
        return Resolution(code=code, valid=False, status=status, reason=exc.reason)
    canonical = keyring().encode(ident.serial, ident.key_version)
    batch = db.session.scalar(
        sa.select(CodeBatch).where(CodeBatch.serial_start <= ident.serial)
        .order_by(CodeBatch.serial_start.desc()).limit(1)
    )
    if batch is None or not batch.holds(ident.serial) or batch.key_version != ident.key_version:
        # Verifies, yet no batch holds it: a key has been used outside issuance.
        return Resolution(code=canonical, valid=True, status="not_issued", key_version=ident.key_version,
                          serial=ident.serial)
    return Resolution(
        code=canonical, valid=True, key_version=ident.key_version, serial=ident.serial, batch=batch,
        status="voided" if batch.status is BatchStatus.VOIDED else "issued",
        urls=label_urls(batch, canonical, ident.serial),
    )


def issued_code(code: str) -> Resolution:
    """The resolution of a code that was issued (voided or not); CodeNotFound otherwise."""
    resolution = resolve_code(code)
    if resolution.batch is None:
        raise CodeNotFound()
    return resolution


def sample_labels(*, actor: Actor, batch_id: int, limit: int = 24) -> tuple[CodeBatch, list[tuple[str, LabelUrls]]]:
    """The first codes of a batch with their URLs, for a printable sample sheet (audited: real codes)."""
    batch = get_batch(batch_id)
    count = min(limit, batch.count)
    ring = keyring()
    labels = []
    for offset in range(count):
        serial = batch.serial_start + offset
        code = ring.encode(serial, batch.key_version)
        labels.append((code, label_urls(batch, code, serial)))
    audit(actor, "code_batch.label_sheet", batch, {"codes": [None, count]})
    return batch, labels


def _check_password(password: str | None) -> None:
    if password is not None and len(password) < packs.MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(errors={"password": [f"at least {packs.MIN_PASSWORD_LENGTH} characters"]})


def _new_export(actor: Actor, batch: CodeBatch, password: str | None) -> ExportJob:
    job = ExportJob(batch=batch, rows_total=batch.count, encrypted=password is not None,
                    file_rows=current_app.config["CODE_EXPORT_FILE_ROWS"], requested_by=actor.name)
    db.session.add(job)
    db.session.flush()
    if password is not None and current_app.config["CODE_EXPORT_RUNNER"] == "worker":
        # Set before the commit, so a worker that claims the job finds it (it expires otherwise).
        redis.set(PASSWORD_KEY.format(job_id=job.id), password, ex=PASSWORD_TTL_SECONDS)
    audit(actor, "code_pack.request", job, {"batch_id": [None, batch.id], "encrypted": [None, job.encrypted]})
    return job


def request_export(*, actor: Actor, batch_id: int, password: str | None = None) -> ExportJob:
    """Queue a new export of a batch's code pack, optionally encrypted with a password."""
    _check_password(password)
    batch = get_batch(batch_id)
    if batch.status is BatchStatus.VOIDED:
        raise BatchVoided()
    return _new_export(actor, batch, password)


