"""Personal data by need: which back-office roles see a consumer's openid or phone number in full.

Everyone else sees it masked (`o6_b***Xk2`, `138****5678`): enough to tell two people apart in a
list or match a complaint, not enough to contact or track anyone. The table is in docs/api.md.
"""
from __future__ import annotations

from app.identity.models import Role

OPENID = "openid"
PHONE = "phone"

# The roles whose job needs the full value: marketers put openids on blacklists and ship prize gifts;
# operations ship mall orders (the courier calls the phone), bind dealer members and keep dealers'
# contacts; admins run the system. Finance and auditors work from ids and amounts.
FULL_VIEW: dict[str, frozenset[Role]] = {
    OPENID: frozenset({Role.ADMIN, Role.MARKETER}),
    PHONE: frozenset({Role.ADMIN, Role.MARKETER, Role.OPS}),
}


def mask_openid(value: str) -> str:
    """The first four and last three characters: `o6_b***Xk2`."""
    return f"{value[:4]}***{value[-3:]}" if len(value) > 8 else f"{value[:1]}***"


def mask_phone(value: str) -> str:
    """The first three and last four digits of a mobile number: `138****5678`."""
    return f"{value[:3]}****{value[-4:]}" if len(value) >= 8 else "****"


_MASKS = {OPENID: mask_openid, PHONE: mask_phone}


def mask_example(kind: str) -> str:
    return {OPENID: "o6_b***Xk2", PHONE: "138****5678"}[kind]


def full_view_text(kind: str) -> str:
    return ", ".join(sorted(role.value for role in FULL_VIEW[kind]))


def shown(kind: str, value, role: Role | None):
    """The value as this role may see it: in full where the role needs it, else masked (strings
    anywhere inside lists and dicts, as audit records hold them); no role sees it masked."""
    if role in FULL_VIEW[kind]:
        return value
    return _masked(kind, value)


def _masked(kind: str, value):
    if isinstance(value, str):
        return _MASKS[kind](value) if value else value
    if isinstance(value, (list, tuple)):
        return [_masked(kind, item) for item in value]
    if isinstance(value, dict):
        return {key: _masked(kind, item) for key, item in value.items()}
    return value


def shown_within(document, keys: dict[str, str], role: Role | None):
    """A JSON document (an address, an audit record's changes) with the values under `keys`
    ({"phone": PHONE, ...}), at any depth, as this role may see them."""
    if isinstance(document, dict):
        return {key: shown(keys[key], value, role) if key in keys else shown_within(value, keys, role)
                for key, value in document.items()}
    if isinstance(document, list):
        return [shown_within(item, keys, role) for item in document]
    return document
