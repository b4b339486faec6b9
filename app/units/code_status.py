"""A code's status as every view tells it (the back office's code lookup, the trace, the consumer).

A code is voided when its batch is voided or when its label was replaced (its unit is voided and the
replacing code carries the unit on). The batch is the codes domain's; the unit is this one's, so the
lookup that reads both lives here. The consumer scan applies the same rule to its cached facts
(``app.consumers.service._judge_code`` and ``unit_verdict``).
"""
from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from app.codes import service as codes
from app.codes.models import BatchStatus
from app.extensions import db
from app.units import unit_rows
from app.units.models import EpcBinding, Unit, UnitStatus

REPLACED = "replaced"  # the reason a code of an issued batch reads voided


def resolve_code(code: str) -> codes.Resolution:
    """What a code is: its batch's resolution, voided (reason ``replaced``) when its label was replaced."""
    resolution = codes.resolve_code(code)
    if resolution.status != "issued":
        return resolution
    row = db.session.execute(sa.select(Unit.status, Unit.replaced_by_serial)
                             .where(Unit.serial == resolution.serial)).first()
    if row is None or row.status is not UnitStatus.VOIDED:
        return resolution
    replaced_by = None
    if row.replaced_by_serial is not None:
        key_version = db.session.scalar(sa.select(Unit.key_version).where(Unit.serial == row.replaced_by_serial))
        replaced_by = codes.keyring().encode(row.replaced_by_serial, key_version)
    return dataclasses.replace(resolution, status="voided", reason=REPLACED, replaced_by=replaced_by)


@dataclasses.dataclass(frozen=True)
class Lookup:
    """What the back office's code lookup shows: the code's resolution and the RFID tags bound to it."""

    resolution: codes.Resolution
    epcs: list[EpcBinding]

    def __getattr__(self, name: str):  # the resolution's fields and properties, as its schema reads them
        return getattr(self.resolution, name)


def look_up(code: str) -> Lookup:
    """A code's resolution (``resolve_code``) with the RFID tags bound to its unit, oldest first."""
    resolution = resolve_code(code)
    epcs = unit_rows.epcs_of([resolution.serial]).get(resolution.serial, []) if resolution.serial is not None else []
    return Lookup(resolution, epcs)


def unit_status(batch_status: BatchStatus, status: UnitStatus) -> UnitStatus:
    """A commissioned unit's status as its label reads: voided with its batch, else its own."""
    return UnitStatus.VOIDED if batch_status is BatchStatus.VOIDED else status
