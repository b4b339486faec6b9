"""The channel's errors: what orders, shipments, receipts, dealer stock and diversion alerts refuse.

An order or a shipment that is not found answers one code whoever asks; the dealer's and the store's
use cases say, in its message, that it is none of theirs.
"""
from __future__ import annotations

from app.channel.rules import MAX_RECEIPT_CODES, MAX_SCAN_CODES
from app.errors import Conflict, NotFound, ValidationFailed


class OrderNotFound(NotFound):
    code = "order_not_found"
    message = "No order has this number."


class VersionConflict(Conflict):
    code = "order_version_conflict"
    message = "This version of the order was received before with other content; send a new version."


class VersionStale(Conflict):
    code = "order_version_stale"
    message = "A newer version of this order was received already; this one is refused."


class LineBelowShipped(Conflict):
    code = "order_line_below_shipped"
    message = "A line's quantity cannot go below what was shipped against it."


class LineHasShipments(Conflict):
    code = "order_line_has_shipments"
    message = "A line that goods were scanned against cannot be removed or change its product or lot."


class PartiesLocked(Conflict):
    code = "order_parties_locked"
    message = "The seller and buyer of an order with shipments cannot change."


class OrderCancelled(Conflict):
    code = "order_cancelled"
    message = "The order is cancelled."


class OrderHasShipments(Conflict):
    code = "order_has_shipments"
    message = "Goods were shipped or are being scanned against this order; it cannot be cancelled."


class PartyUnknown(ValidationFailed):
    code = "order_party_unknown"
    message = "The seller or buyer is unknown."


class PartyInactive(ValidationFailed):
    code = "order_party_inactive"
    message = "The seller or buyer is inactive."


class PartyKindInvalid(ValidationFailed):
    code = "order_party_kind_invalid"
    message = "The seller is a warehouse or a dealer; the buyer a dealer or a store."


class SellerNotParent(ValidationFailed):
    code = "order_seller_not_parent"
    message = "A dealer buys from the brand or from its parent dealer only."


class StoreNotServed(ValidationFailed):
    code = "order_store_not_served"
    message = "The selling dealer does not serve this store."


class ProductUnknown(ValidationFailed):
    code = "order_product_unknown"
    message = "A line names a product that doesn't exist or is inactive."


class LotUnknown(ValidationFailed):
    code = "order_lot_unknown"
    message = "A line names a lot that isn't a production lot of its product."


class LinesInvalid(ValidationFailed):
    code = "order_lines_invalid"
    message = "The lines are not valid."


class ShipmentNotFound(NotFound):
    code = "shipment_not_found"
    message = "No shipment has this id."


class ScanNotFound(NotFound):
    code = "scan_not_found"
    message = "No such scan in this shipment."


class ReceiverNotFound(NotFound):
    code = "receiver_not_found"
    message = "No such store you serve, nor sub-dealer of yours."


class OrderNotShippable(Conflict):
    code = "order_not_shippable"
    message = "This order is cancelled, closed or already shipped in full."


class ShipmentNotOpen(Conflict):
    code = "shipment_not_open"
    message = "This shipment is no longer open."


class ShipmentEmpty(Conflict):
    code = "shipment_empty"
    message = "Nothing was scanned into this shipment."


class ShipmentCancelled(Conflict):
    code = "shipment_cancelled"
    message = "This shipment was cancelled."


class ShipmentContentsChanged(Conflict):
    code = "shipment_contents_changed"
    message = "Goods scanned into this shipment changed since (recalled, sold or moved): undo those scans first."


class LineOverShipped(Conflict):
    code = "line_complete"
    message = "An order line would be shipped beyond its quantity; undo a scan."


class ScanCodesInvalid(ValidationFailed):
    code = "scan_codes_invalid"
    message = f"A scan sends 1 to {MAX_SCAN_CODES:,} codes."


class ShipmentAlreadyReceived(Conflict):
    code = "shipment_already_received"
    message = "This shipment was already received."


class ReceiptCodesInvalid(ValidationFailed):
    code = "receipt_codes_invalid"
    message = f"A receipt scans 1 to {MAX_RECEIPT_CODES:,} codes (and as many damaged ones)."


class PeriodInvalid(ValidationFailed):
    code = "period_invalid"
    message = "The period ends after it starts."


class AlertNotFound(NotFound):
    code = "diversion_alert_not_found"
    message = "No such diversion alert."


class AlertAlreadyClosed(Conflict):
    code = "diversion_alert_closed"
    message = "This alert is already resolved or dismissed."


class ResolutionInvalid(ValidationFailed):
    code = "resolution_invalid"
    message = "An alert is resolved or dismissed, with a resolution."
