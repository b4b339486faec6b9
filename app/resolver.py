"""The GS1 Digital Link resolver (GS1-Conformant Resolver standard) of the printed labels.

``/01/<gtin>/21/<code>`` (also with a lot, ``/01/<gtin>/10/<lot>/21/<code>``) names one unit: the AI 21
serial is the unit's code; ``/01/<gtin>`` (the short form) names the product. GTIN-8, -12 and -13 are
read as their GTIN-14. The links of a unit:

- gs1:defaultLink: the consumer page of the code (app.public_pages, /<LABEL_PREFIX>/<code>);
- gs1:pip: the product's information page (/gs1/pip/<gtin>, HTML);
- gs1:verificationService: whether the code is one of ours and sound (/gs1/verify/<gtin>/<code>, JSON);
- gs1:traceability: the unit's public trace story (/gs1/trace/<gtin>/<code>, JSON).

The product's short form has gs1:pip only (its default). How the resolver answers:

- a browser (Accept names text/html) without linkType gets the consumer page itself;
- ``linkType=all`` (or ``linkset``), or Accept application/linkset+json (or application/json), gets the
  linkset (RFC 9264, application/linkset+json);
- ``linkType=<link type>`` gets a 307 redirect to that link; a link type it does not offer for the
  identifier, or no linkType at all, gets a 307 to the default link (the standard's fallback);
- every answer carries the links in a ``Link`` header (RFC 8288), with the linkset's.

A GTIN that is not one (digits, length, check digit), a GTIN of no product of ours, a code that is not
one of ours or is of another product answer 404 with a JSON error (``gtin_invalid``, ``gtin_unknown``,
``serial_unknown``); a browser gets the consumer page's warning ("not one of our codes") with the 404.

Public by design, nothing recorded (the consumer scan is the mini-program's); each address may ask
GS1_RESOLVER_PER_MINUTE_IP times a minute (429 rate_limited past it), target pages included.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import msgspec
from flask import Response, current_app, request
from flask_smorest import Blueprint

from app import gs1, public_pages
from app.consumers import counters, facts, scan_text, service
from app.consumers import errors as consumer_errors
from app.consumers.models import Verdict
from app.errors import NotFound
from app.http import public
from app.inputs import open_query

blp = Blueprint("gs1_resolver", __name__, description="GS1 Digital Link resolver of the printed labels.")

LINKSET = "application/linkset+json"
VOCABULARY = "https://gs1.org/voc/"
DEFAULT, PIP, VERIFY, TRACE = "defaultLink", "pip", "verificationService", "traceability"
# (title in Chinese and English, title for the Link header (ASCII), media type of the target)
_TITLES = {
    DEFAULT: ("扫码验证 · Check this code", "Check this code", "text/html"),
    PIP: ("产品信息 · Product information", "Product information", "text/html"),
    VERIFY: ("真伪验证 · Verification", "Verification", "application/json"),
    TRACE: ("追溯信息 · Traceability", "Traceability", "application/json"),
}
_ALIASES = {f"{prefix}{name}": name for name in _TITLES
            for prefix in ("gs1:", VOCABULARY, "https://ref.gs1.org/voc/", "http://gs1.org/voc/")}
_encode = msgspec.json.Encoder().encode


class GtinInvalid(NotFound):
    code = "gtin_invalid"
    message = "This is not a GTIN: a GTIN has 8, 12, 13 or 14 digits and a valid check digit."


class GtinUnknown(NotFound):
    code = "gtin_unknown"
    message = "No product of ours carries this GTIN."


class SerialUnknown(NotFound):
    code = "serial_unknown"
    message = "This serial (AI 21) is not one of our codes for this GTIN."


class LotMismatch(NotFound):
    code = "lot_mismatch"
    message = "This code belongs to another lot than the link names (AI 10): the label may be a copy."


@dataclass(frozen=True)
class Identified:
    """What a Digital Link names: the product (GTIN-14), and for a unit, its code and reading."""

    gtin: str
    product: object  # consumers.facts.ProductFacts
    code: str | None = None
    lot: str | None = None
    reading: service.Reading | None = None


def _base() -> str:
    return f"https://{current_app.config['LABEL_DOMAIN']}"


def _limit() -> None:
    counters.rate_limit(f"gs1:resolver:ip:{request.remote_addr or '-'}",
                        current_app.config["GS1_RESOLVER_PER_MINUTE_IP"])


def _gtin(text: str) -> tuple[str, object]:
    try:
        gtin = gs1.normalize_gtin(text)
    except ValueError:
        raise GtinInvalid(errors={"gtin": [text[:32]]}) from None
    product = service.product_of_gtin(gtin)
    if product is None:
        raise GtinUnknown(errors={"gtin": [gtin]})
    return gtin, product


def _identify(gtin_text: str, code: str | None, lot: str | None) -> Identified:
    gtin, product = _gtin(gtin_text)
    if code is None:
        return Identified(gtin, product)
    try:
        reading = service.read(scan_text.parse_text(code))
    except consumer_errors.ScanTextInvalid:
        reading = None
    if reading is None or reading.verdict is Verdict.FORGED or reading.product is None \
            or reading.product.id != product.id:
        raise SerialUnknown(errors={"serial": [code[:64]]})
    if lot is not None and reading.unit is not None and reading.unit.lot_id is not None:
        made = facts.lot(reading.unit.lot_id)
        if made is not None and made.lot_no != lot:
            raise LotMismatch(errors={"lot": [lot[:64]]})
    return Identified(gtin, product, reading.resolution.code, lot, reading)


def _targets(found: Identified) -> dict[str, str]:
    """The link types offered for what the link names, with their targets; the default first."""
    base = _base()
    pip = f"{base}/gs1/pip/{found.gtin}"
    if found.code is None:
        return {DEFAULT: pip, PIP: pip}
    code = quote(found.code)
    return {DEFAULT: f"{base}/{current_app.config['LABEL_PREFIX']}/{code}", PIP: pip,
            VERIFY: f"{base}/gs1/verify/{found.gtin}/{code}", TRACE: f"{base}/gs1/trace/{found.gtin}/{code}"}


def _anchor(found: Identified) -> str:
    uri = f"{_base()}/01/{found.gtin}"
    if found.code is not None:
        lot = f"/10/{quote(found.lot, safe='')}" if found.lot is not None else ""
        uri += f"{lot}/21/{quote(found.code)}"
    return uri


def _link_header(found: Identified, targets: dict[str, str]) -> str:
    links = [f'<{href}>; rel="{VOCABULARY}{kind}"; title="{_TITLES[kind][1]}"; type="{_TITLES[kind][2]}"'
             for kind, href in targets.items()]
    links.append(f'<{_anchor(found)}?linkType=all>; rel="linkset"; type="{LINKSET}"')
    return ", ".join(links)


def _linkset(found: Identified, targets: dict[str, str]) -> dict:
    entry = {"anchor": _anchor(found), "itemDescription": found.product.name}
    for kind, href in targets.items():
        title, _, media_type = _TITLES[kind]
        entry[f"{VOCABULARY}{kind}"] = [{"href": href, "title": title, "type": media_type,
                                         "hreflang": ["zh", "en"]}]
    return {"linkset": [entry]}


def _wants_html() -> bool:
    return any(value == "text/html" and quality > 0 for value, quality in request.accept_mimetypes)


def _wants_linkset() -> bool:
    accept = request.accept_mimetypes
    best = accept.best_match([LINKSET, "application/json", "text/html"])
    return best in (LINKSET, "application/json") and accept[best] > accept["text/html"]


def _resolve(gtin: str, code: str | None, lot: str | None) -> Response:
    _limit()
    link_type = request.args.get("linkType")
    try:
        found = _identify(gtin, code, lot)
    except NotFound:
        if code is not None and link_type is None and _wants_html():
            return public_pages.page(service.Reading(Verdict.FORGED), code, status=404)
        raise
    targets = _targets(found)
    if link_type in ("all", "linkset") or (link_type is None and _wants_linkset()):
        response = Response(_encode(_linkset(found, targets)), mimetype=LINKSET)
    elif link_type is None and found.reading is not None and _wants_html():
        response = public_pages.page(found.reading, found.code)
    else:
        kind = _ALIASES.get(link_type or "", DEFAULT)
        response = Response(status=307)
        response.headers["Location"] = targets.get(kind, targets[DEFAULT])
    response.headers["Link"] = _link_header(found, targets)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Accept"
    return response


@public
@open_query
def unit_link(gtin: str, code: str, lot: str | None = None):
    return _resolve(gtin, code, lot)


@public
@open_query
def product_link(gtin: str):
    return _resolve(gtin, None, None)


# --- the targets ------------------------------------------------------------------------------------

def _json(body: dict) -> Response:
    response = Response(_encode(body), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@public
@open_query
def product_page(gtin: str):
    _limit()
    gtin, product = _gtin(gtin)
    return public_pages.product_page(name=product.name, specification=product.specification, gtin=gtin)


@public
@open_query
def verification(gtin: str, code: str):
    _limit()
    found = _identify(gtin, code, None)
    verdict = found.reading.verdict
    return _json({"gtin": found.gtin, "serial": found.code, "verified": verdict is Verdict.GENUINE,
                  "verdict": verdict.value, "message": service.MESSAGES[verdict],
                  "product": {"name": found.product.name, "gtin": found.gtin}})


@public
@open_query
def traceability(gtin: str, code: str):
    _limit()
    found = _identify(gtin, code, None)
    return _json({"gtin": found.gtin, "serial": found.code, **service.public_story(found.reading)})


@public
@open_query
def description():
    """The resolver description file (GS1-Conformant Resolver standard, /.well-known/gs1resolver)."""
    return _json({"name": "Matong GS1 Digital Link resolver", "resolverRoot": _base(),
                  "supportedPrimaryKeys": ["01"], "linkTypeDefaultCanBeLinkset": False,
                  "supportedLinkType": [{"namespace": VOCABULARY, "prefix": "gs1:"}]})


def _add_rules(state) -> None:
    app = state.app
    for rule, endpoint, view in (
            ("/01/<string:gtin>", "product_link", product_link),
            ("/01/<string:gtin>/21/<string:code>", "unit_link", unit_link),
            ("/01/<string:gtin>/10/<string:lot>/21/<string:code>", "unit_link_lot", unit_link),
            ("/gs1/pip/<string:gtin>", "product_page", product_page),
            ("/gs1/verify/<string:gtin>/<string:code>", "verification", verification),
            ("/gs1/trace/<string:gtin>/<string:code>", "traceability", traceability),
            ("/.well-known/gs1resolver", "description", description)):
        app.add_url_rule(rule, endpoint=f"gs1_resolver.{endpoint}", view_func=view, methods=["GET"])


blp.record_once(_add_rules)
