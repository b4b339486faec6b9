"""A dealer unpacks goods it holds — a pallet into cases, a case into items — to ship them apart.

Whole (scan the parent: every child comes out) or partial (scan a child: it leaves its parent), by
the line's packing rules (``app.units.packing``). Only goods in the dealer's own stock (received,
not in transit) and not scanned into an open shipment; the units stay where they are, so stock
doesn't move. Retries: the request's Idempotency-Key; a parent already unpacked answers not_packed.
"""
from __future__ import annotations

from app.channel import rules, shipments
from app.channel.errors import ScanCodesInvalid
from app.db import utcnow
from app.units import packing
from app.units.models import LocationKind

NOT_IN_MY_STOCK = "not_in_my_stock"
REASONS = {NOT_IN_MY_STOCK: "This is not in your stock (elsewhere, or still on its way: receive it first).",
           "forged": rules.REASONS["forged"], "unknown": rules.REASONS["unknown"]}


def unpack(*, actor_label: str, dealer_id: int, mode: str, codes: list[str]) -> list[packing.Result]:
    """Unpack these codes (whole: parents; partial: children) in the dealer's stock; an answer per code."""
    if not 1 <= len(codes) <= rules.MAX_SCAN_CODES:
        raise ScanCodesInvalid()
    mine = (LocationKind.DEALER, dealer_id, False)

    def where(record: dict, unit) -> str | None:
        return None if (unit.location_kind, unit.location_id, unit.in_transit) == mine else NOT_IN_MY_STOCK

    now = utcnow()
    records = packing.holder_records({"code": str(code), "mode": mode, "scanned_at": now} for code in codes)
    return packing.unpack_held(source=actor_label[:64], records=records, where=where, busy=shipments.open_serials,
                               messages=REASONS)
