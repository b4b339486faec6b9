"""Code issuance for tests: a product to issue codes for, and the back office's issue request."""
from __future__ import annotations

import itertools

from app import gs1
from app.db import transaction
from app.extensions import db
from app.masterdata.models import Product, Status

GTIN = "06912345678900"[:13] + str(gs1.check_digit("06912345678900"[:13]))
_numbers = itertools.count(1)


def make_product(*, gtin: str | None = GTIN, status: Status = Status.ACTIVE) -> Product:
    """A product to issue codes for (active, with a valid GTIN unless told)."""
    n = next(_numbers)
    with transaction():
        product = Product(sku=f"CODES-{n}", name=f"Product {n}", gtin=gtin, status=status)
        db.session.add(product)
    return product


def issue(client, headers, **body):
    """Ask the back office for a batch (10 item codes unless told); the response."""
    return client.post("/api/admin/code-batches", json={"level": "item", "count": 10, **body},
                       headers=headers)
