"""Master-data factories: a product, a dealer chain, a store, each committed like a real use case."""
from __future__ import annotations

import itertools

from app.db import transaction
from app.gs1 import check_digit
from app.identity.service import Actor
from app.masterdata import dealers, places, products, stores

ACTOR = Actor.system("tests")
_counter = itertools.count(1)

# Real adcodes from the shipped dataset.
BEIJING = "110000000000"  # province (a municipality)
BEIJING_CITY = "110100000000"  # its 市辖区 city row
DONGCHENG = "110101000000"  # district of Beijing
HANGZHOU = "330100000000"  # city in Zhejiang
XIHU = "330106000000"  # district of Hangzhou
ZHEJIANG = "330000000000"


def gtin13(n: int) -> str:
    """A valid GTIN-13 made from a number."""
    body = f"690{n:09d}"
    return body + str(check_digit(body))


def make_product(**data):
    n = next(_counter)
    with transaction():
        return products.create_product(actor=ACTOR, data={"sku": f"SKU-{n}", "name": f"Product {n}", **data})


def make_factory(**data):
    with transaction():
        return places.create_factory(actor=ACTOR, data={"name": f"Factory {next(_counter)}", **data})


def make_dealer(**data):
    with transaction():
        return dealers.create_dealer(actor=ACTOR, data={"name": f"Dealer {next(_counter)}", **data})


def make_store(**data):
    with transaction():
        return stores.create_store(actor=ACTOR, data={"name": f"Store {next(_counter)}",
                                                      "region_code": DONGCHENG, **data})
