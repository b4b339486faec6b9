"""Schemas the three mini-programs share: tokens, the signed-in user, invitations, members."""
from __future__ import annotations

import marshmallow as ma

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


class PlaceSchema(ma.Schema):
    id = Int()
    name = ma.fields.String()


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


class MpInvitationReadSchema(ma.Schema):
    id = Int()
    code = ma.fields.String(metadata={"description": "Also the scene of the mini-program code"})
    kind = ma.fields.Function(lambda i: i.kind.value)
    role = ma.fields.Function(lambda i: i.role.value)
    store_id = Int(allow_none=True)
    expires_at = ma.fields.DateTime()
    max_uses = Int()
    used_count = Int()
