"""EPCIS identifiers of our units, places and orders, and reading them back in a capture.

A unit's EPC is the URI printed on its label (``app.codes.service.label_urls``):

- a pallet of a batch issued with SSCCs: ``https://<LABEL_DOMAIN>/00/<SSCC-18>``;
- a unit whose product has a GTIN: the GS1 Digital Link of an SGTIN,
  ``https://<LABEL_DOMAIN>/01/<GTIN-14>/21/<code>`` (the code is the serial);
- otherwise our own scheme, the short label URL ``https://<LABEL_DOMAIN>/<LABEL_PREFIX>/<code>``.

Digital Link URIs are read back whatever their host (``id.gs1.org`` is the canonical one); the
event hash normalises them to the same pre-hash string. Places have no GLN: a line, warehouse,
dealer or store is ``https://<LABEL_DOMAIN>/epcis/loc/<kind>/ext/<external id>`` when the ERP gave it
an external id (the identifier both systems share), else ``.../epcis/loc/<kind>/<id>``. An order is
``https://<LABEL_DOMAIN>/epcis/order/<order no>``.

RFID EPCs (``urn:epc:id:sgtin:...``) are read by readers registered with ``register_epc_reader``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote, unquote, urlsplit

import sqlalchemy as sa
from flask import current_app

from app import gs1
from app.codes import service as codes
from app.codes.models import CodeBatch
from app.extensions import db
from app.trace import resolution
from app.units.models import LocationKind

# An EPC reader takes an EPC URI and answers the code it stands for, or None when it is not its kind.
EpcReader = Callable[[str], "str | None"]
_readers: list[EpcReader] = []


def register_epc_reader(reader: EpcReader) -> None:
    """Let capture read another kind of EPC (RFID's SGTIN-96 URNs, TIDs): called before our own URIs."""
    if reader not in _readers:
        _readers.append(reader)


def _split(uri: str):
    """The URI's parts, or None when it is not one (an unclosed IPv6 host, a bad port)."""
    try:
        parts = urlsplit(uri)
        parts.hostname, parts.port  # noqa: B018 — both raise on a malformed authority
    except ValueError:
        return None
    return parts


def _base() -> str:
    return f"https://{current_app.config['LABEL_DOMAIN']}"


# --- units --------------------------------------------------------------------------------------

def epc(batch: CodeBatch, code: str, serial: int) -> str:
    """The unit's EPC: its label's Digital Link (SGTIN or SSCC), else its short label URL."""
    urls = codes.label_urls(batch, code, serial)
    return urls.digital_link or urls.short


@dataclass(frozen=True)
class ReadEpc:
    """What an EPC names: a code (text), or why it names none of ours."""

    code: str | None = None
    gtin: str | None = None  # the GTIN the EPC carries, to compare with the code's product
    reason: str | None = None


def read_epc(uri: str) -> ReadEpc:
    """The code an EPC URI names (Digital Link SGTIN or SSCC, our label URL, a registered reader's)."""
    for reader in _readers:
        code = reader(uri)
        if code is not None:
            return ReadEpc(code=code)
    parts = _split(uri)
    if parts is None or parts.scheme not in ("http", "https"):
        return ReadEpc(reason="epc_unknown")
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if len(segments) >= 4 and segments[-4] == "01" and segments[-2] == "21":
        try:
            gtin = gs1.normalize_gtin(segments[-3])
        except ValueError:
            return ReadEpc(reason="epc_unknown")
        return ReadEpc(code=segments[-1], gtin=gtin)
    if len(segments) >= 2 and segments[-2] == "00":
        code = _code_of_sscc(segments[-1])
        return ReadEpc(code=code) if code else ReadEpc(reason="epc_unknown")
    if (parts.hostname == current_app.config["LABEL_DOMAIN"] and len(segments) == 2
            and segments[0] == current_app.config["LABEL_PREFIX"]):
        return ReadEpc(code=segments[1])
    return ReadEpc(reason="epc_unknown")


def _code_of_sscc(sscc: str) -> str | None:
    """The pallet code an SSCC-18 was issued with (its batch's SSCC range), or None."""
    if len(sscc) != 18 or not gs1.is_valid(sscc):
        return None
    for batch in db.session.scalars(sa.select(CodeBatch).where(CodeBatch.sscc_start.is_not(None))):
        prefix = batch.sscc_company_prefix
        if sscc[1:1 + len(prefix)] != prefix:
            continue
        width = 16 - len(prefix)
        number = int(sscc[0]) * 10**width + int(sscc[1 + len(prefix):17])
        offset = number - batch.sscc_start
        if 0 <= offset < batch.count:
            return codes.keyring().encode(batch.serial_start + offset, batch.key_version)
    return None


# --- places and orders --------------------------------------------------------------------------

def place_uri(kind: LocationKind, place_id: int | None, external_id: str | None) -> str:
    if external_id:
        return f"{_base()}/epcis/loc/{kind.value}/ext/{quote(external_id, safe='')}"
    return f"{_base()}/epcis/loc/{kind.value}/{place_id}"


def place_uris(places) -> dict[tuple, str]:
    """URIs of (kind, id) places: one query per kind for their external ids."""
    return {(kind, place_id): place_uri(kind, place_id, row.external_id)
            for (kind, place_id), row in resolution.place_rows(places, "external_id").items()}


def read_place(uri: str) -> tuple[LocationKind, int] | None:
    """The (kind, id) of one of our places from its URI, or None."""
    parts = _split(uri)
    if parts is None or parts.hostname != current_app.config["LABEL_DOMAIN"]:
        return None
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if segments[:2] != ["epcis", "loc"] or len(segments) not in (4, 5):
        return None
    try:
        kind = LocationKind(segments[2])
    except ValueError:
        return None
    model = resolution.PLACE_MODELS.get(kind)
    if model is None:
        return None
    if len(segments) == 5:
        if segments[3] != "ext":
            return None
        place_id = db.session.scalar(sa.select(model.id).where(model.external_id == segments[4]))
    else:
        if not (segments[3].isascii() and segments[3].isdigit()) or len(segments[3]) > 18:
            return None
        place_id = db.session.scalar(sa.select(model.id).where(model.id == int(segments[3])))
    return (kind, place_id) if place_id is not None else None


def order_uri(order_no: str) -> str:
    return f"{_base()}/epcis/order/{quote(order_no, safe='')}"


def read_order(uri: str) -> str | None:
    parts = _split(uri)
    if parts is None:
        return None
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if parts.hostname == current_app.config["LABEL_DOMAIN"] and segments[:2] == ["epcis", "order"] \
            and len(segments) == 3:
        return segments[2]
    return None
