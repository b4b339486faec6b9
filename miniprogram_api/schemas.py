"""Schemas the three mini-programs share: tokens, the signed-in user, invitations, members, and how an
answer names the parties and products it refers to."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

import marshmallow as ma

from app.masterdata import names
from app.schemas import Int


class MpLoginSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=128),
                            metadata={"description": "The code from wx.login"})


class RefreshSchema(ma.Schema):
    refresh_token = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=128))


class PhoneSchema(ma.Schema):
    code = ma.fields.String(validate=ma.validate.Length(min=1, max=128),
                            metadata={"description": "The code from getPhoneNumber (new API)"})
    encrypted_data = ma.fields.String(validate=ma.validate.Length(min=1, max=4096),
                                      metadata={"description": "encryptedData (legacy API)"})
    iv = ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata={"description": "iv (legacy API)"})


class AppUserReadSchema(ma.Schema):
    id = Int()
    app = ma.fields.Function(lambda user: user.app.value)
    person_id = Int()
    nickname = ma.fields.String()
    avatar_url = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()


class SessionUserSchema(ma.Schema):
    user = ma.fields.Nested(AppUserReadSchema)
    next_steps = ma.fields.List(ma.fields.String(), metadata={
        "description": "bind_dealer, bind_store, await_approval, bind_phone"})


class TokenPairSchema(SessionUserSchema):
    token = ma.fields.String()
    refresh_token = ma.fields.String()
    expires_in = Int(metadata={"description": "Seconds the token stays valid"})


class BindSchema(ma.Schema):
    invitation_code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=32))


class MpPartySchema(ma.Schema):
    """A party (a warehouse, dealer or store) as every mini-program answer shows it."""

    kind = ma.fields.String(metadata={"description": "warehouse, dealer or store"})
    id = Int()
    name = ma.fields.String(allow_none=True, metadata={"description": "None only when the party no longer exists"})


class MpDealerSchema(MpPartySchema):
    kind = ma.fields.Constant("dealer")


class MpStoreSchema(MpPartySchema):
    kind = ma.fields.Constant("store")


class _Named:
    """An object seen together with the names of what it refers to (``extra`` first, then the object)."""

    __slots__ = ("_obj", "_extra")

    def __init__(self, obj, extra: dict):
        self._obj, self._extra = obj, extra

    def __getattr__(self, name):
        extra = self._extra
        return extra[name] if name in extra else getattr(self._obj, name)


def _party_key(ref: tuple | None) -> tuple[str, int] | None:
    return None if ref is None else (names.kind_value(ref[0]), ref[1])


def _get(obj, name: str):
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


class NamedRefsSchema(ma.Schema):
    """A schema of objects that refer to parties and a product by id: each answer carries their names.

    ``parties`` maps an answer field to how to find the party of an object (``(kind, id)`` or None); the
    field is ``{kind, id, name}``. ``product_ref`` names the attribute holding a product's id; the answer
    then also has ``sku`` and ``product_name`` (``ProductNamedSchema``). The names of every object dumped
    together (a page of a list) are read at once: one query per kind of party and one for the products.
    """

    parties: ClassVar[dict[str, Callable]] = {}
    product_ref: ClassVar[str | None] = None

    @ma.pre_dump(pass_collection=True)
    def _with_names(self, data, many: bool, **kwargs):
        items = list(data) if many else [data]
        refs = [{field: _party_key(find(item)) for field, find in self.parties.items()} for item in items]
        parties = names.party_names(ref for found in refs for ref in found.values() if ref is not None)
        products = names.product_names(_get(item, self.product_ref) for item in items) if self.product_ref else {}
        named = []
        for item, found in zip(items, refs):
            extra = {field: None if ref is None else {"kind": ref[0], "id": ref[1], "name": parties.get(ref)}
                     for field, ref in found.items()}
            if self.product_ref:
                product = products.get(_get(item, self.product_ref))
                extra.update(sku=product.sku if product else None, product_name=product.name if product else None)
            named.append({**item, **extra} if isinstance(item, Mapping) else _Named(item, extra))
        return named if many else named[0]


def party_field(**kwargs) -> ma.fields.Nested:
    return ma.fields.Nested(MpPartySchema, **kwargs)


class ProductNamedSchema(NamedRefsSchema):
    """Objects with a ``product_id``: the answer also carries the product's ``sku`` and ``product_name``."""

    product_ref = "product_id"

    sku = ma.fields.String(allow_none=True)
    product_name = ma.fields.String(allow_none=True)


class MemberUserSchema(ma.Schema):
    id = Int()
    nickname = ma.fields.String()
    avatar_url = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)


class MemberReadSchema(ma.Schema):
    id = Int()
    role = ma.fields.Function(lambda m: m.role.value)
    status = ma.fields.Function(lambda m: m.status.value)
    created_at = ma.fields.DateTime()
    user = ma.fields.Nested(MemberUserSchema, attribute="app_user")


class MpInvitationReadSchema(NamedRefsSchema):
    parties = {"store": lambda i: ("store", i.store_id) if i.store_id is not None else None}

    id = Int()
    code = ma.fields.String(metadata={"description": "Also the scene of the mini-program code"})
    kind = ma.fields.Function(lambda i: i.kind.value)
    role = ma.fields.Function(lambda i: i.role.value)
    store_id = Int(allow_none=True)
    store = party_field(allow_none=True, metadata={"description": "{kind, id, name} of store_id"})
    expires_at = ma.fields.DateTime()
    max_uses = Int()
    used_count = Int()
