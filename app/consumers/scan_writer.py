"""The scan writer: records (text fields, as Redis keeps them) written to consumer_scans and their counts to
unit_scan_stats, with the alerts they call for; idempotent (INSERT IGNORE by id; counts only grow), so a
record written twice (a batch delivered again, a claim's scan) is one row. A claim does not wait for the
worker: `persist_one` writes the claimed scan itself.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import AppName
from app.channel import diversion
from app.channel.models import SeenKind
from app.consumers import facts, legacy_keys
from app.consumers.errors import ScanNotFound
from app.consumers.models import CodeLeakAlert, ConsumerScan, LeakAlertStatus, Verdict
from app.consumers.scan_log import _moment, _record_key
from app.db import greatest, insert_ignore, mysql_like, upsert
from app.extensions import db, redis
from app.reports import facts as report_facts, rollups
from app.units import unit_rows
from app.units.models import UnitScanStats


def _row(fields: dict) -> dict:
    """A record as Redis keeps it (text) -> the consumer_scans row and its counter's values."""
    def number(name, kind=int):
        value = fields.get(name, "")
        return kind(value) if value != "" else None

    ok = fields.get("hidden_code_ok", "")
    return {
        "id": int(fields["id"]), "serial": number("serial"), "code": fields["code"],
        "app_user_id": int(fields["app_user_id"]), "verdict": Verdict(fields["verdict"]),
        "scan_number": int(fields.get("scan_number") or 1), "hidden_code_ok": None if ok == "" else ok == "1",
        "product_id": number("product_id"), "lot_id": number("lot_id"),
        "latitude": number("latitude", float), "longitude": number("longitude", float),
        "region_code": fields.get("region_code") or None, "ip": fields.get("ip") or None,
        "scanned_at": _moment(fields["scanned_at"]),
        "_first_at": fields.get("first_at") or None, "_first_user": fields.get("first_user") or None,
        "_first_region": fields.get("first_region") or None,
        "_check_diversion": "" if fields.get("check_diversion", "") in ("", "0") else fields["check_diversion"],
    }


def write(records: list[dict]) -> None:
    """Write records (text fields, as Redis keeps them) to consumer_scans and unit_scan_stats, and raise the
    alerts they call for (a code never put on a product, a unit outside its dealer's territory): idempotent."""
    if not records:
        return
    rows = [_row(fields) for fields in records]
    insert = insert_ignore(ConsumerScan.__table__)
    columns = [name for name in rows[0] if not name.startswith("_")]
    written = _written_ids([row["id"] for row in rows])
    if written:  # some were written before (a claim's, a batch delivered again): the same scans?
        _check_written([row for row in rows if row["id"] in written])
    fresh = [row for row in rows if row["id"] not in written]
    inserted = db.session.execute(insert, [{name: row[name] for name in columns} for row in fresh]).rowcount \
        if fresh else 0
    if inserted < len(fresh):  # a twin writer (a claim's, a batch redelivered) wrote some since we read,
        # or the database refused some (INSERT IGNORE makes a foreign key's refusal a warning): which?
        missing = {row["id"] for row in fresh} - _written_ids([row["id"] for row in fresh], latest=True)
        if missing:
            raise RecordRefused(f"the database refused scan{'s' if len(missing) > 1 else ''} "
                                f"{', '.join(map(str, sorted(missing)))} (a foreign key or a bad value)")
        if inserted:
            raise ConcurrentWrite("some scans of this batch were written meanwhile by another writer")
        fresh = []  # it wrote them all, and counted them
    for row in fresh:
        if row["verdict"] is Verdict.NOT_COMMISSIONED and row["serial"] is not None:
            _count_leak(row)
    rollups.add_all(report_facts.consumer_scans(fresh))
    rollups.note_consumer_days(fresh)
    stats: dict[int, dict] = {}
    for row in rows:
        if row["serial"] is None or not row["_first_at"]:
            continue  # not a counted unit
        current = stats.get(row["serial"])
        if current is None or row["scan_number"] > current["scans"]:
            stats[row["serial"]] = {
                "serial": row["serial"], "scans": row["scan_number"], "first_scanned_at": _moment(row["_first_at"]),
                "first_app_user_id": int(row["_first_user"]), "first_region_code": row["_first_region"],
                "last_scanned_at": row["scanned_at"]}
    if stats:
        statement = upsert(UnitScanStats.__table__, ["serial"], lambda table, new: {
            "scans": greatest(table.c.scans, new.scans),
            "last_scanned_at": greatest(table.c.last_scanned_at, new.last_scanned_at)})
        db.session.execute(statement, [stats[serial] for serial in sorted(stats)])  # one lock order for all writers
    # A genuine unit seen at a place: an item inside its last dealer's territory (the process's cache of
    # territories) needs nothing more; the others are checked (a case or pallet through its items).
    diverted = [row for row in rows if row["_check_diversion"] and not (
        row["_check_diversion"].startswith("d") and not diversion.outside_territory(
            row["region_code"], facts.territory(int(row["_check_diversion"][1:]))))]
    if diverted:
        units = unit_rows.load_units({row["serial"] for row in diverted}, lock=False)
        for row in diverted:
            if row["serial"] in units:  # one alert per unit and region: a second check raises nothing
                diversion.check(units=[units[row["serial"]]], seen_kind=SeenKind.CONSUMER_SCAN, place_kind="region",
                                place_id=None, region_code=row["region_code"], seen_by=f"consumer:{row['app_user_id']}",
                                seen_at=row["scanned_at"])


class ConcurrentWrite(Exception):
    """Another writer wrote some scans of this batch between our read and our insert, so which ones we
    wrote (and count in the reports) is unknown: the batch is written again, and then reads them."""


def _written_ids(ids: list[int], *, latest: bool = False) -> set[int]:
    """The ids among these already in consumer_scans (a plain read: a lock would block every writer).
    ``latest``: as committed now, a twin's rows included (a locking read; this transaction's snapshot may
    predate them)."""
    query = sa.select(ConsumerScan.id).where(ConsumerScan.id.in_(ids))
    return set(db.session.scalars(query.with_for_update(read=True) if latest else query))


class RecordRefused(Exception):
    """The database refused a record itself (INSERT IGNORE skipped it: a consumer gone, a value it can't take)."""


class IdCollision(Exception):
    """A scan's id is another scan's in the database (the id sequence went back: Redis lost its data)."""


# What dead-letters a record: the database refuses the record itself (a constraint, a bad value), its id is
# another scan's, or its fields can't be read. Never a connection lost or a deadlock: those are retried.
REFUSED = (sa.exc.IntegrityError, sa.exc.DataError, IdCollision, RecordRefused, ValueError, KeyError, TypeError)


def _check_written(rows: list[dict]) -> None:
    """Raise IdCollision when a row already in consumer_scans under one of these ids is another scan."""
    written = {id_: (user_id, at) for id_, user_id, at in db.session.execute(
        sa.select(ConsumerScan.id, ConsumerScan.app_user_id, ConsumerScan.scanned_at)
        .where(ConsumerScan.id.in_([row["id"] for row in rows])))}
    for row in rows:
        there = written.get(row["id"])
        if there is not None and there != (row["app_user_id"], row["scanned_at"]):
            raise IdCollision(f"scan id {row['id']} is another scan's in the database")


def _count_leak(row: dict) -> None:
    """A scan of a code issued but never put on a product: its code-leak alert, one per code."""
    batch = facts.batch_holding(row["serial"])
    if batch is None:
        return
    # Whether this scan raised the alert (its first): SQLite serialises writers, so a read before tells;
    # on MySQL a read before would need a lock (gap locks: concurrent scans of the code deadlock), and the
    # upsert's affected rows tell instead (1: inserted, 2: updated).
    first = not mysql_like() and db.session.scalar(
        sa.select(CodeLeakAlert.id).where(CodeLeakAlert.serial == row["serial"])) is None
    statement = upsert(CodeLeakAlert.__table__, ["serial"], lambda table, new: {
        "scans": table.c.scans + 1, "last_seen_at": greatest(table.c.last_seen_at, new.last_seen_at)})
    result = db.session.execute(statement, {
        "serial": row["serial"], "code": row["code"], "batch_id": batch.id, "scans": 1,
        "first_seen_at": row["scanned_at"], "last_seen_at": row["scanned_at"], "status": LeakAlertStatus.OPEN,
        "resolution": ""})
    if first or mysql_like() and result.rowcount == 1:
        rollups.add_all(report_facts.leak_alert(first_seen_at=row["scanned_at"], product_id=batch.product_id))


def _decoded(raw: dict) -> dict:
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()}


def persist_one(scan_id: int) -> bool:
    """Write one scan not yet written (a claim's), in the caller's transaction; False when Redis has no record
    (under its name, or the name the release before the hash tags gave it)."""
    fields = _decoded(redis.hgetall(_record_key(scan_id))) or _decoded(redis.hgetall(legacy_keys.record_key(scan_id)))
    if not fields:
        return False
    fields["id"] = str(scan_id)
    write([fields])
    return True


def own_scan(scan_id: int, user) -> ConsumerScan:
    """A consumer's own scan as the database has it, written from the log first if the worker has not yet
    (404 scan_not_found for anyone else's, or none)."""
    scan = db.session.get(ConsumerScan, scan_id)
    if scan is None:
        # Not written yet (or written since this transaction's snapshot): write it from the scan log if the
        # worker has not, then read the latest committed row (a locking read, past the snapshot).
        persist_one(scan_id)
        scan = db.session.scalar(sa.select(ConsumerScan).where(ConsumerScan.id == scan_id)
                                 .with_for_update(read=True).execution_options(populate_existing=True))
    if scan is None or scan.app_user_id != user.id or user.app is not AppName.CONSUMER:
        raise ScanNotFound()
    return scan
