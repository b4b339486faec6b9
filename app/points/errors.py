"""Points and mall refusals: each a machine ``code`` with a sentence for people."""
from __future__ import annotations

from app.errors import Conflict, Forbidden, NotFound, ValidationFailed


class SourceReused(Conflict):
    code = "points_source_reused"
    message = "This source already moved points for another user, kind or amount."


class InsufficientPoints(Conflict):
    code = "points_insufficient"
    message = "The points balance is lower than the points asked for."


class AdjustmentInvalid(ValidationFailed):
    code = "points_adjustment_invalid"
    message = "An adjustment moves a non-zero number of points of an existing consumer."


class MallItemNotFound(NotFound):
    code = "mall_item_not_found"
    message = "No such mall item."


class MallItemInvalid(ValidationFailed):
    code = "mall_item_invalid"
    message = "The mall item is not valid; see errors for each field."


class MallItemSoldOut(Conflict):
    code = "mall_item_sold_out"
    message = "The item is sold out, inactive, or has fewer left than the quantity asked for."


class AddressInvalid(ValidationFailed):
    code = "mall_address_invalid"
    message = "A physical item needs a shipping address: name, phone, an existing region_code, detail."


class MallOrderNotFound(NotFound):
    code = "mall_order_not_found"
    message = "No such mall order."


class RequestReused(Conflict):
    code = "mall_request_reused"
    message = "This request id was used for another item or quantity."


class MallOrderState(Conflict):
    code = "mall_order_state"
    message = "The order is not in a state that allows this."


class ConsumerBlocked(Forbidden):
    code = "consumer_blocked"
    message = "This account cannot redeem points."
