"""RFID tags named in EPCIS documents: an SGTIN's EPC URI read as the code its tag is bound to.

A partner's reader sees the tag, not the printed code, and names it by its pure identity URI
(``urn:epc:id:sgtin:CompanyPrefix.ItemReference.Serial``) or its tag URI with the filter value
(``urn:epc:tag:sgtin-96:Filter.CompanyPrefix.ItemReference.Serial``). The tag was bound to a code at
commissioning (app.rfid, the line upload's ``epc``); its binding keeps the SGTIN-96 as written on the tag,
filter value included, so a pure identity URI matches whichever filter the tag carries.
"""
from __future__ import annotations

import sqlalchemy as sa

from app import gs1, rfid
from app.codes import service as codes
from app.extensions import db
from app.units import unit_rows
from app.units.models import Unit

PURE = "urn:epc:id:sgtin:"
TAG = "urn:epc:tag:sgtin-96:"
FILTERS = range(8)


def read_sgtin_uri(uri: str) -> str | None:
    """The code a bound tag's SGTIN URI stands for; None when the URI is no SGTIN or names no bound tag."""
    if uri.startswith(TAG):
        parts = uri[len(TAG):].split(".")
        filters, parts = (parts[:1], parts[1:]) if len(parts) == 4 else ([], [])
    elif uri.startswith(PURE):
        filters, parts = FILTERS, uri[len(PURE):].split(".")
    else:
        return None
    if len(parts) != 3 or not all(part.isdigit() for part in parts) or not parts[1]:
        return None
    company, item, serial = parts
    body = item[0] + company + item[1:]
    try:
        tags = [rfid.encode_sgtin96(gtin=body + str(gs1.check_digit(body)), company_prefix_digits=len(company),
                                    serial=int(serial), filter=int(f)) for f in filters]
    except ValueError:  # EpcInvalid too: a prefix of the wrong length, a serial out of range
        return None
    serials = set(unit_rows.epc_bindings(tags).values())
    if len(serials) != 1:
        return None  # bound to nothing (or, with two filters, to two codes: no answer rather than a guess)
    serial_number = serials.pop()
    version = db.session.scalar(sa.select(Unit.key_version).where(Unit.serial == serial_number))
    return codes.keyring().encode(serial_number, version) if version is not None else None
