"""Schema fields, and shapes that more than one audience sees alike, shared by the HTTP layers."""
from __future__ import annotations

import numbers
import re
from datetime import UTC

import marshmallow as ma
from flask import g, has_request_context
from werkzeug.routing import IntegerConverter

from app.campaigns.models import PrizeKind, RedemptionStatus
from app.platform.ids import CLIENT_ID_PATTERN
from app.identity import personal_data
from app.points.models import MallOrderStatus

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_DIGITS = re.compile(r"-?[0-9]+")
class ClientId(ma.fields.String):
    """A client's own id of a record or request: 1-64 characters, no space at either end (the database
    compares ids padding spaces, "r1 " = "r1": an id differing only there would get another's answer)."""

    def __init__(self, **kwargs):
        super().__init__(validate=[ma.validate.Length(min=1, max=64), ma.validate.Regexp(
            CLIENT_ID_PATTERN, error="No space at the start or the end of an id.")], **kwargs)


class Int(ma.fields.Integer):
    """An integer that fits a 64-bit column: larger input is a 422, never a database error.

    Every integer of every schema is one, money (the *_fen fields) above all: a JSON number with a
    fraction or an exponent is refused, where marshmallow would cut 100.5 fen down to 100. Digits
    in a string stay valid, since query strings carry nothing else.
    """

    def __init__(self, **kwargs):
        validate = kwargs.pop("validate", None)
        validators = [ma.validate.Range(min=INT64_MIN, max=INT64_MAX)]
        if validate is not None:
            validators += list(validate) if isinstance(validate, (list, tuple)) else [validate]
        super().__init__(validate=validators, **kwargs)

    def _validated(self, value):
        if not isinstance(value, (numbers.Integral, str)) or isinstance(value, str) and not _DIGITS.fullmatch(value):
            raise self.make_error("invalid", input=value)  # a string: ASCII digits only, not " 100", "1_00", "１００"
        return super()._validated(value)


class UtcTime(ma.fields.AwareDateTime):
    """An aware time (UTC when no offset is given), in UTC; one UTC cannot hold (year 1 at +05:00) is a 422."""

    def __init__(self, **kwargs):
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError as error:
            raise ma.ValidationError("Out of the range of dates.") from error


class IdConverter(IntegerConverter):
    """`<int:...>` in URLs: ids beyond a 64-bit column simply don't exist (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(map, *args, **kwargs)


class OrderLineProgressSchema(ma.Schema):
    """An order line's progress as the brand sees it (its back office and its ERP alike)."""

    line_no = Int()
    sku = ma.fields.String()
    product_name = ma.fields.String()
    lot_no = ma.fields.String(allow_none=True)
    quantity = Int()
    shipped = Int()
    received = Int()
    remaining = Int(metadata={"description": "Still to ship"})
    to_receive = Int(metadata={"description": "Shipped, not yet received"})


class OrderTotalsSchema(ma.Schema):
    """An order's totals over its lines (the brand's back office and its ERP alike)."""

    quantity = Int()
    shipped = Int()
    received = Int()
    remaining = Int()
    to_receive = Int()


class ShippingAddressSchema(ma.Schema):
    """A shipping address as the consumer gave it (a mall order's)."""

    name = ma.fields.String()
    phone = ma.fields.String()
    region_code = ma.fields.String()
    detail = ma.fields.String()


class GiftAddressReadSchema(ShippingAddressSchema):
    """Where a gift goes, as its winner gave it, with the region's name."""

    region_name = ma.fields.String()


class RedemptionSchema(ma.Schema):
    """A coupon or gift won in a draw, as its winner sees it (the back office adds who and which prize)."""

    id = Int()
    draw_id = Int()
    campaign_id = Int()
    kind = ma.fields.Enum(PrizeKind, by_value=True)
    name = ma.fields.String()
    status = ma.fields.Enum(RedemptionStatus, by_value=True)
    coupon_code = ma.fields.String(allow_none=True)
    address = ma.fields.Nested(GiftAddressReadSchema, allow_none=True)
    tracking_no = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class MallOrderSchema(ma.Schema):
    """A points-mall order, as its buyer sees it (the back office adds the buyer)."""

    id = Int()
    request_id = ma.fields.String()
    item_id = Int()
    quantity = Int()
    points = Int()
    status = ma.fields.Enum(MallOrderStatus, by_value=True)
    address = ma.fields.Nested(ShippingAddressSchema, allow_none=True)
    coupon_code = ma.fields.String(allow_none=True)
    tracking_no = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()



def _viewer_role():
    """The back-office role of the current request's actor; None (everything masked) for anyone else."""
    actor = g.get("actor") if has_request_context() else None
    return getattr(actor, "role", None)


class Masked(ma.fields.String):
    """A consumer's openid or phone number: in full for the roles whose job needs it, else masked
    (app.identity.personal_data). Back office only: a consumer sees their own data through other schemas."""

    def __init__(self, kind: str, **kwargs):
        self.kind = kind
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("description", f"Masked ({personal_data.mask_example(kind)}) for roles that "
                                           f"don't need it: {personal_data.full_view_text(kind)} see it in full")
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return personal_data.shown(self.kind, super()._serialize(value, attr, obj, **kwargs), _viewer_role())


class MaskedWithin(ma.fields.Dict):
    """A JSON document whose personal values (under `keys`, at any depth) are masked as Masked does."""

    def __init__(self, keys: dict[str, str], **kwargs):
        self.masked_keys = keys
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return personal_data.shown_within(super()._serialize(value, attr, obj, **kwargs), self.masked_keys,
                                          _viewer_role())
