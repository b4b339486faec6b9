"""Consumer scans: read the printed URL, decide a verdict, tell the unit's story, keep the counters.

Decisions (docs/api.md, "Consumer scans"):

- The text is a printed URL (short form https://<LABEL_DOMAIN>/<LABEL_PREFIX>/<code>, or the GS1
  Digital Link .../01/<gtin>[/10/<lot>]/21/<code>), with or without a query string, or a bare code.
  A URL of our forms whose code does not verify is forged; anything else is scan_text_invalid.
- Forged codes (malformed, failing the MAC, or never issued) are recorded with serial None.
- A unit's consumer scans are counted in Redis, atomically with the scan's rate limits and its
  record on one server, by calls each atomic on a cluster (app.consumers.scan_log): the first scan
  sets first_*, later ones only the count. The
  scan-log worker writes the records to consumer_scans and the counts to unit_scan_stats.
- Suspected copy: within CONSUMER_COPY_WINDOW_HOURS, CONSUMER_COPY_USERS distinct users or
  CONSUMER_COPY_REGIONS distinct regions scanned the unit (sets in Redis, in the same round trip).
- Batches, products, lots, stores and dealer territories come from short per-process caches
  (app.consumers.facts); the unit's state and counter from Redis (app.units.scan_facts), where its
  writers keep them in step with the database.
- The request writes nothing to the database: the scan-log writer also raises the code-leak alert
  (a code issued but never put on a product) and the diversion alert (a genuine unit scanned
  outside its last dealer's territory).
- Hidden codes: wrong guesses are counted in Redis per openid and per IP
  (HIDDEN_CODE_MAX_FAILURES_PER_USER / _PER_IP per hour: 429 too_many_attempts) and per code
  (HIDDEN_CODE_MAX_FAILURES_PER_CODE per HIDDEN_CODE_LOCK_HOURS: past it, a user who guessed wrong on
  the code is not checked again, `locked`); a right code from anyone else always passes.
- Rate limits per openid, IP and code: fixed one-minute windows in Redis (429 rate_limited).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from flask import current_app

from app.accounts import tokens
from app.accounts.models import AppUser
from app.channel import geolocation
from app.codes import service as codes
from app.codes.format import InvalidCode
from app.consumers import facts, scan_log, scan_writer
from app.consumers.counters import _check_hidden, rate_limits
from app.consumers.errors import NoHiddenCode, RateLimited
from app.consumers.models import ConsumerScan, HiddenCodeProof, Verdict
from app.consumers.scan_text import ScannedText, parse_text
from app.consumers.story import _at_store, _lot, _product, _story, city_of
from app.db import insert_ignore, utcnow
from app.errors import ServiceUnavailable
from app.extensions import db
from app.units import scan_facts
from app.masterdata.models import Product
from app.platform import ratelimit
from app.units.models import Recall, Unit, UnitStatus

MESSAGES = {
    Verdict.GENUINE: "正品，首次查询。Genuine: this is the first scan.",
    Verdict.SCANNED_BEFORE: "正品，但此码已被查询过。Genuine, but this code was scanned before.",
    Verdict.SUSPECTED_COPY: "此码被多人或多地查询，疑似仿冒。Scanned by many people or places: suspected copy.",
    Verdict.NOT_COMMISSIONED: "此码未投入使用，请谨慎购买。This code was never put on a product: beware.",
    Verdict.FORGED: "查无此码，疑似假冒。Not one of our codes: suspected fake.",
    Verdict.VOIDED: "此码已作废。This code has been voided.",
    Verdict.SCRAPPED: "此产品已报废，请勿食用。This product was scrapped: do not use it.",
    Verdict.RECALLED: "此产品已召回，请勿食用。This product has been recalled: do not use it.",
}
LOCKED_MESSAGE = "暗码错误次数过多，已锁定。Too many wrong hidden codes: locked for now."
HIDDEN_NEEDED_MESSAGE = "请刮开涂层输入暗码完成验证。Scratch off and enter the hidden code to complete the check."
HIDDEN_WRONG_MESSAGE = "暗码错误。The hidden code is wrong."
HIDDEN_RIGHT_MESSAGE = "暗码正确。The hidden code is right."


_UNIT_FOR_SCAN = None


def _unit_from_database(serial: int, found: str) -> tuple[scan_facts.UnitFacts | None, scan_log.UnitSlot | None]:
    """The unit as a scan needs it, read from the database where Redis had not got it (one statement: the
    unit with its unit_scan_stats row), with what to put back in Redis over what its field held (`found`)."""
    global _UNIT_FOR_SCAN
    if _UNIT_FOR_SCAN is None:
        _UNIT_FOR_SCAN = scan_facts.read_statement().where(Unit.serial == sa.bindparam("serial"))
    row = db.session.execute(_UNIT_FOR_SCAN, {"serial": serial}).first()
    if row is None:
        return None, None
    value = scan_facts.encode(row)
    return scan_facts.decode(serial, value), scan_log.UnitSlot(
        serial, counter=scan_facts.counter_of(row), facts=value, seed=scan_facts.seedable(found or None),
        expect=found)


# --- the scan ------------------------------------------------------------------------------------

@dataclass(slots=True)
class ScanRecord:
    """A scan as recorded (the ConsumerScan columns; written to the database by the scan-log worker)."""

    id: int
    serial: int | None
    code: str
    app_user_id: int
    verdict: Verdict
    scan_number: int
    hidden_code_ok: bool | None
    product_id: int | None
    lot_id: int | None
    latitude: float | None
    longitude: float | None
    region_code: str | None
    ip: str | None
    scanned_at: datetime


@dataclass
class ScanResult:
    scan: ScanRecord  # as recorded (not yet written to the database unless CONSUMER_SCAN_WRITER is inline)
    verdict: Verdict
    message: str
    product: dict | None = None
    lot: dict | None = None
    story: dict | None = None
    scans: dict = field(default_factory=lambda: {"count": 0, "first_at": None, "first_city": None})
    hidden_code: dict = field(default_factory=lambda: {"required": False, "ok": None, "locked": False})
    # The campaigns this scan can claim now, and those closed to it with why (where that helps): filled
    # by the scan's flow (app.flows.consumer_scans), which offers them.
    campaigns: list = field(default_factory=list)
    closed_campaigns: list = field(default_factory=list)
    first_scanner: int | None = None  # the unit's first consumer scanner, as this scan counted it

    @property
    def scan_id(self) -> int:
        return self.scan.id


@dataclass(frozen=True)
class Resolved:
    """What the code's arithmetic and its batch say (the batch from the per-process cache)."""

    code: str  # canonical when it verifies, else as scanned
    serial: int | None = None
    batch: facts.BatchFacts | None = None


@dataclass(frozen=True)
class Reading:
    """What a code is, without recording anything (the public page and the scan share it)."""

    verdict: Verdict
    resolution: Resolved | None = None
    unit: Unit | None = None
    product: facts.ProductFacts | None = None


def _resolve(code: str) -> Resolved:
    ring = codes.keyring()
    try:
        ident = ring.decode(code)
    except InvalidCode:
        return Resolved(code)
    canonical = ring.encode(ident.serial, ident.key_version)
    batch = facts.batch_holding(ident.serial)
    if batch is None or batch.key_version != ident.key_version:
        return Resolved(canonical, ident.serial)  # verifies, yet no batch holds it: a key used outside issuance
    return Resolved(canonical, ident.serial, batch)


def _judge_code(scanned: ScannedText) -> tuple[Resolved, Verdict | None, facts.ProductFacts | None]:
    """What the code and its batch say before the unit is looked at: (the resolution, FORGED or VOIDED or
    None: the unit decides, the batch's product)."""
    resolution = _resolve(scanned.code)
    batch = resolution.batch
    if batch is None:
        return resolution, Verdict.FORGED, None
    batch_product = facts.product(batch.product_id)
    if scanned.gtin and batch_product is not None and batch_product.gtin and \
            batch_product.gtin.lstrip("0") != scanned.gtin.lstrip("0"):  # GTIN-13 and its GTIN-14 form agree
        return resolution, Verdict.FORGED, None
    if batch.voided:
        return resolution, Verdict.VOIDED, batch_product
    return resolution, None, batch_product


def unit_verdict(unit) -> Verdict:
    """A commissioned unit's verdict before its consumer scans are counted."""
    if unit.status is UnitStatus.VOIDED:
        return Verdict.VOIDED
    if unit.status is UnitStatus.SCRAPPED:
        return Verdict.SCRAPPED
    if unit.recall_id is not None:
        return Verdict.RECALLED
    return Verdict.GENUINE


def read(scanned: ScannedText) -> Reading:
    """What a code is, from the database (the public page: nothing recorded)."""
    resolution, verdict, batch_product = _judge_code(scanned)
    if verdict is not None:
        return Reading(verdict, resolution, product=batch_product)
    unit = db.session.get(Unit, resolution.serial)
    if unit is None:
        return Reading(Verdict.NOT_COMMISSIONED, resolution, product=batch_product)
    product = facts.product(unit.product_id) if unit.product_id else batch_product
    return Reading(unit_verdict(unit), resolution, unit, product)


def preview(text: str) -> Reading:
    """The verdict of a printed URL for a browser: nothing recorded, no counters moved."""
    return read(parse_text(text))


def product_of_gtin(gtin: str) -> facts.ProductFacts | None:
    """The product carrying this GTIN-14, or None (the GS1 Digital Link's short form, /01/<gtin>)."""
    return facts.product(db.session.scalar(sa.select(Product.id).where(Product.gtin == gtin)))


def public_story(reading: Reading) -> dict:
    """What anyone holding the label may read of its unit (GS1 gs1:traceability): the verdict, the
    product, the lot and the story a consumer scan tells; nothing recorded, no scans counted."""
    unit = reading.unit
    answer = {"verdict": reading.verdict.value, "message": MESSAGES[reading.verdict],
              "product": _product(reading.product), "lot": None, "story": None}
    if unit is not None:
        lot = facts.lot(unit.lot_id)
        shop = facts.store(unit.location_id) if _at_store(unit) else None
        answer["lot"] = _lot(lot)
        answer["story"] = _story(unit, lot, lot.factory_region if lot is not None else None, shop,
                                 facts.territory(unit.last_dealer_id))
    return answer


def public_recall_notice(*, recall_id: int) -> str | None:
    """What the brand tells the public about a recall (the printed URL's page shows it; the reason stays internal)."""
    return db.session.scalar(sa.select(Recall.public_notice).where(Recall.id == recall_id))


def _rate_limit_keys(user: AppUser, ip: str | None, code: str) -> list[tuple[str, int]]:
    config = current_app.config
    limits = [(f"consumer:scans:user:{user.openid}", config["CONSUMER_SCANS_PER_MINUTE_USER"])]
    if ip:
        limits.append((f"consumer:scans:ip:{ip}", config["CONSUMER_SCANS_PER_MINUTE_IP"]))
    limits.append((f"consumer:scans:code:{code}", config["CONSUMER_SCANS_PER_MINUTE_CODE"]))
    return limits


def _count_scan(*, user, scanned, resolution, verdict, batch_product, hidden_code, latitude, longitude, ip, now,
                token) -> tuple[dict, dict, scan_log.Counted]:
    """The scan's Redis step: rate limits, the hidden code's try, then count and log (one script)."""
    limits = _rate_limit_keys(user, ip, scanned.code)
    valid = verdict is not Verdict.FORGED
    hidden = {"required": False, "ok": None, "locked": False}
    if valid and resolution.batch.hidden_code_digits:
        rate_limits(limits)  # before the hidden code is tried: a refused scan counts no failure
        limits = []
        hidden = _check_hidden(user=user, resolution=resolution, given=hidden_code, ip=ip)
    record = {
        "serial": resolution.serial if valid else None,
        "code": (resolution.code if valid else scanned.code)[:64], "app_user_id": user.id,
        "verdict": verdict or Verdict.GENUINE,  # a unit's facts decide it in Redis
        "hidden_code_ok": hidden["ok"], "product_id": batch_product.id if batch_product is not None else None,
        "lot_id": None, "latitude": latitude, "longitude": longitude,
        "region_code": geolocation.region_of(latitude, longitude), "ip": ip, "scanned_at": now, "check_diversion": ""}
    counted = _count(record, limits=limits, slot=scan_log.UnitSlot(resolution.serial) if verdict is None else None,
                     token=token)
    if isinstance(counted, tuple):
        raise RateLimited(**ratelimit.retry_after(counted[1]))
    return hidden, record, counted


def scan(*, user: AppUser | tokens.Holder, text: str, hidden_code: str | None = None,
         latitude: float | None = None, longitude: float | None = None, ip: str | None = None,
         now: datetime | None = None, token: tokens.Check | None = None, once: dict | None = None) -> ScanResult:
    """A consumer scans a printed URL or code: count and log the scan with its verdict, answer the story.

    One Redis round trip and, on the hot path, no database: one script (app.consumers.scan_log) checks
    the token's revocation (`token`: a signed token not yet checked against it), reads the unit's facts
    and counter (app.units.scan_facts), which decide the verdict, counts the rate limits, the unit and
    the copy check, and keeps the record. Where Redis has not got the token or the unit, the database
    is asked and the script runs again. The record reaches consumer_scans through the scan-log worker,
    which also raises the code-leak and diversion alerts: the request writes nothing to the database.

    ``once``: a dict kept across runs of one request (the view is run again after a database error,
    app.http.retry_writes): the scan is counted, logged and its hidden code tried in the first run only.
    """
    once = {} if once is None else once
    scanned = parse_text(text)
    resolution, verdict, batch_product = _judge_code(scanned)
    if "counted" not in once:
        once["hidden"], once["record"], once["counted"] = _count_scan(
            user=user, scanned=scanned, resolution=resolution, verdict=verdict, batch_product=batch_product,
            hidden_code=hidden_code, latitude=latitude, longitude=longitude, ip=ip, now=now or utcnow(),
            token=token)
    hidden, record, counted = once["hidden"], once["record"], once["counted"]
    now, region_code = record["scanned_at"], record["region_code"]
    if scan_log.inline() or not counted.logged:
        scan_writer.write([scan_log.record_fields(record, counted)])
    verdict = counted.verdict
    scan = ScanRecord(id=counted.scan_id, serial=record["serial"], code=record["code"], app_user_id=user.id,
                      verdict=verdict, scan_number=max(counted.count, 1), hidden_code_ok=hidden["ok"],
                      product_id=counted.product_id, lot_id=counted.lot_id, latitude=latitude, longitude=longitude,
                      region_code=region_code, ip=ip, scanned_at=now)
    result = ScanResult(scan=scan, verdict=verdict, message=MESSAGES[verdict],
                        product=_product(facts.product(counted.product_id)), hidden_code=hidden,
                        first_scanner=counted.first_user)
    if counted.facts:
        unit = scan_facts.decode(resolution.serial, counted.facts)
        lot = facts.lot(unit.lot_id)
        shop = facts.store(unit.location_id) if _at_store(unit) else None
        result.lot = _lot(lot)
        result.story = _story(unit, lot, lot.factory_region if lot is not None else None, shop,
                              facts.territory(unit.last_dealer_id))
    if counted.count:
        result.scans = {"count": counted.count, "first_at": counted.first_at,
                        "first_city": city_of(counted.first_region)}
    result.message = _with_hidden_note(result.message, hidden)
    if hidden["ok"]:
        _note_proof(serial=resolution.serial, user=user, scan_id=counted.scan_id, now=now)
    return result


def _count(record: dict, *, limits, slot: scan_log.UnitSlot | None, token: tokens.Check | None):
    """scan_log.count_and_log, after asking the database what Redis did not know (the token, the unit)."""
    for _ in range(3):
        try:
            return scan_log.count_and_log(record, limits=limits, unit=slot,
                                          token_key=token.key if token is not None else None)
        except scan_log.TokenUnknown:
            token.confirm()  # raises when the database refuses the token too
        except scan_log.UnitUnknown as unknown:
            if unknown.limits_counted:
                limits = []  # a cluster counted them before it read the unit: once is enough
            unit, slot = _unit_from_database(record["serial"], unknown.found)
            if unit is None:
                record["verdict"] = Verdict.NOT_COMMISSIONED  # issued, never put on a product
    raise ServiceUnavailable("Redis keeps losing this scan's token or unit; try again shortly.",
                             code="scan_state_unsettled", headers={"Retry-After": "1"})


def _with_hidden_note(message: str, hidden: dict) -> str:
    if hidden["locked"]:
        return f"{message} {LOCKED_MESSAGE}"
    if hidden["required"] and hidden["ok"] is None:
        return f"{message} {HIDDEN_NEEDED_MESSAGE}"
    if hidden["ok"] is False:
        return f"{message} {HIDDEN_WRONG_MESSAGE}"
    if hidden["ok"]:
        return f"{message} {HIDDEN_RIGHT_MESSAGE}"
    return message


def _note_proof(*, serial: int, user: AppUser, scan_id: int, now: datetime) -> None:
    """Keep the unit's first proof of its hidden code (a later proof, by anyone, changes nothing)."""
    db.session.execute(insert_ignore(HiddenCodeProof.__table__),
                       {"serial": serial, "app_user_id": user.id, "scan_id": scan_id, "proved_at": now})


@dataclass
class HiddenCodeResult:
    scan: ConsumerScan
    message: str
    hidden_code: dict
    campaigns: list = field(default_factory=list)
    closed_campaigns: list = field(default_factory=list)

    @property
    def scan_id(self) -> int:
        return self.scan.id

    @property
    def verdict(self) -> Verdict:
        return self.scan.verdict


def prove_hidden_code(*, user: AppUser, scan_id: int, hidden_code: str, ip: str | None = None,
                      now: datetime | None = None) -> HiddenCodeResult:
    """The hidden-code step of a scan already made: check the scratched-off digits against the scan's unit.

    Not another scan: nothing is counted and the verdict the buyer saw stays. A right code marks the scan
    (``hidden_code_ok``, which campaigns that need the code read) and, if no one proved it before, makes
    this consumer the unit's first prover. A scan once proved stays proved (the step is idempotent). The
    same throttles as a hidden code sent with the scan (per openid, IP and code).
    """
    now = now or utcnow()
    scan = scan_writer.own_scan(scan_id, user)
    batch = facts.batch_holding(scan.serial) if scan.serial is not None else None
    if batch is None or not batch.hidden_code_digits:
        raise NoHiddenCode()
    if scan.hidden_code_ok:
        hidden = {"required": True, "ok": True, "locked": False}
    else:
        hidden = _check_hidden(user=user, resolution=Resolved(scan.code, scan.serial, batch), given=hidden_code, ip=ip)
        if hidden["ok"] is not None:
            # Never over a proof: a wrong guess sent at the same moment as the right code must not undo it.
            db.session.execute(sa.update(ConsumerScan).where(
                ConsumerScan.id == scan.id, sa.or_(ConsumerScan.hidden_code_ok.is_(None),
                                                   ConsumerScan.hidden_code_ok.is_(False)))
                .values(hidden_code_ok=hidden["ok"]).execution_options(synchronize_session=False))
            # What stands now, another request's proof included: a locking read, which sees the latest commit
            # (a plain refresh reads this transaction's snapshot, which may predate the row: a twin step wrote
            # the scan from the log meanwhile).
            standing = db.session.scalar(sa.select(ConsumerScan.hidden_code_ok).where(ConsumerScan.id == scan.id)
                                         .with_for_update(read=True))
            set_committed_value(scan, "hidden_code_ok", standing)
        if hidden["ok"]:
            _note_proof(serial=scan.serial, user=user, scan_id=scan.id, now=now)
    return HiddenCodeResult(scan=scan, message=_with_hidden_note(MESSAGES[scan.verdict], hidden),
                            hidden_code=hidden)


def my_scans(*, user: AppUser):
    """A select of a consumer's own scans, newest first."""
    return (sa.select(ConsumerScan).where(ConsumerScan.app_user_id == user.id)
            .order_by(ConsumerScan.id.desc()))
