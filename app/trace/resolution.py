"""Codes and places for the trace: a code resolved to its serial and batch, serials encoded back as codes,
and the names of the lines, warehouses, dealers and stores units are at."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.codes import service as codes
from app.codes.errors import CodeNotFound
from app.codes.models import CodeBatch
from app.extensions import db
from app.masterdata.models import Dealer, ProductionLine, Store, Warehouse
from app.units import code_reader, unit_rows
from app.units.models import LocationKind, Unit


@dataclass
class Place:
    kind: LocationKind | None
    id: int | None
    name: str | None = None
    in_transit: bool = False


class SerialCodes:
    """Encodes serials as codes (key version from the unit row, else from the batch)."""

    def __init__(self, units: dict[int, unit_rows.UnitState] | None = None):
        self._ring = codes.keyring()
        self._versions = {s: u.key_version for s, u in (units or {}).items()}

    def learn(self, units) -> None:
        for unit in units:
            self._versions[unit.serial] = unit.key_version

    def __call__(self, serial: int | None) -> str | None:
        if serial is None:
            return None
        if serial not in self._versions:
            self._fill([serial])
        return self._ring.encode(serial, self._versions[serial])

    def _fill(self, serials: list[int]) -> None:
        missing = [s for s in serials if s not in self._versions]
        for serial, version in db.session.execute(
                sa.select(Unit.serial, Unit.key_version).where(Unit.serial.in_(missing))):
            self._versions[serial] = version
        for serial in missing:
            if serial not in self._versions:  # no unit row: its batch has the key version
                batch = db.session.scalar(sa.select(CodeBatch).where(CodeBatch.serial_start <= serial)
                                          .order_by(CodeBatch.serial_start.desc()).limit(1))
                self._versions[serial] = batch.key_version if batch is not None else self._ring.current

    def many(self, serials) -> None:
        """Learn the key versions of many serials in one query."""
        serials = [s for s in set(serials) if s is not None and s not in self._versions]
        for i in range(0, len(serials), unit_rows.CHUNK):
            self._fill(serials[i:i + unit_rows.CHUNK])


PLACE_MODELS = {LocationKind.LINE: ProductionLine, LocationKind.WAREHOUSE: Warehouse,
                 LocationKind.DEALER: Dealer, LocationKind.STORE: Store}


def place_rows(places, *columns: str) -> dict[tuple, sa.Row]:
    """Some columns of (kind, id) places (line, warehouse, dealer, store), one query per kind."""
    wanted: dict[LocationKind, set[int]] = {}
    for kind, place_id in places:
        if kind in PLACE_MODELS and place_id is not None:
            wanted.setdefault(kind, set()).add(place_id)
    rows = {}
    for kind, ids in wanted.items():
        model = PLACE_MODELS[kind]
        for row in db.session.execute(sa.select(model.id, *(getattr(model, c) for c in columns))
                                      .where(model.id.in_(ids))):
            rows[(kind, row.id)] = row
    return rows


def place_names(places) -> dict[tuple, str]:
    """Names of (kind, id) places, one query per kind."""
    return {key: row.name for key, row in place_rows(places, "name").items()}


def issued_resolution(code: str):
    """The code's decoded serial and batch (of an RFID tag's EPC or TID: its code's); CodeNotFound for a
    forged, malformed or never issued code, or a tag bound to none."""
    resolution = codes.resolve_code(code)
    if resolution.status in ("malformed", "forged"):
        bound = code_reader.CodeReader().read(code)
        if isinstance(bound, code_reader.Decoded):
            resolution = codes.resolve_code(bound.code)
    if resolution.batch is None:
        reasons = {"forged": "The code fails its check: it is forged or mistyped.",
                   "malformed": "This is not a code.",
                   "not_issued": "The code verifies but was never issued."}
        raise CodeNotFound(reasons.get(resolution.status), errors={"code": [resolution.status]})
    return resolution
