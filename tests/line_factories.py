"""Production lines for tests: a line on an open lot with a session, and the wire records it uploads."""
from __future__ import annotations

import itertools

from app.db import transaction
from app.extensions import db
from app.units import line_engine, line_records, line_sessions
from app.units.models import LineSession
from tests import unit_factories as uf
from tests.masterdata_factories import ACTOR, make_factory, make_product
from tests.production_factories import make_line, make_production_lot

T0 = uf.SCANNED
_ids = itertools.count(1)


class Line:
    """A factory line making one product (cases of 2, pallets of 2 cases) on an open lot, with a session."""

    def __init__(self, *, units_per_case=2, cases_per_pallet=2):
        self.product = make_product(units_per_case=units_per_case, cases_per_pallet=cases_per_pallet)
        self.factory = make_factory()
        self.line = make_line(self.factory.id)
        self.lot = make_production_lot(product_id=self.product.id, factory_id=self.factory.id, line_id=self.line.id)
        self.session_id = self.start()

    def start(self, lot=None, line=None) -> int:
        """Open a line session for the lot on the line; its id."""
        with transaction():
            return line_sessions.start_session(actor=ACTOR, line_id=(line or self.line).id, lot_id=(lot or self.lot).id).id

    def items(self, n: int, product_id=None):
        return uf.issue(n, product_id=product_id or self.product.id)

    def cases(self, n: int, level="case", product_id=None):
        return uf.issue(n, level=level, product_id=product_id or self.product.id)

    def upload(self, *records, session_id=None) -> list[line_records.Result]:
        """Send the wire records in one upload of the session; their results."""
        with transaction():
            return line_engine.apply_records(actor=ACTOR, session_id=session_id or self.session_id,
                                       records=list(records))

    def one(self, record) -> line_records.Result:
        return self.upload(record)[0]

    def commissioned(self, n: int) -> list[str]:
        """N new items commissioned on the line; their codes."""
        items = self.items(n)
        self.upload(*(commission(c) for c in items))
        return items.codes

    def session(self, session_id=None) -> LineSession:
        return db.session.get(LineSession, session_id or self.session_id, populate_existing=True)


def record(type_, at=None, record_id=None, **fields) -> dict:
    """A line's wire record with a fresh record id, scanned at T0 unless told."""
    return {"type": type_, "record_id": record_id or f"r{next(_ids)}", "scanned_at": at or T0, **fields}


def commission(code, **fields):
    return record("commission", code=code, **fields)


def pack(code, parent, **fields):
    return record("pack", code=code, parent=parent, **fields)


def outcome(result: line_records.Result):
    """(status, reason) of a record's result."""
    return result.status, result.reason
