"""Traceability (穿透): a code's trace and timeline, a lot's units and where they are, recalls, corrections."""
from __future__ import annotations

import marshmallow as ma
from flask import Response, json
from flask_smorest import Blueprint

from app.admin_api.codes import BatchBriefSchema, EpcBindingSchema, ProductBriefSchema
from app.admin_api.production import ConsumedRawLotSchema, ProductionLotReadSchema, RawMaterialLotReadSchema
from app.codes.models import Level
from app.db import transaction
from app.epcis import export as epcis_export
from app.http import (ALL_ROLES, SelectPage, WRITERS_OF_MASTER_DATA, authenticate_back_office, current_actor,
                      national_only, roles)
from app.identity.personal_data import OPENID
from app.schemas import Int, Masked
from app.trace import code_trace, corrections, lots, reach
from app.trace import recalls as recalls_service
from app.units.models import EventKind, LocationKind, UnitStatus

blp = Blueprint("admin_trace", __name__, url_prefix="/api/admin/trace",
                description="Trace a code (tree and timeline), a production lot (the recall view) or a "
                            "raw-material lot; recall a lot; correct a unit's lot.")
recalls = Blueprint("admin_recalls", __name__, url_prefix="/api/admin/recalls",
                    description="Recalls of production lots (by lot or by raw-material lot) and their reach.")
BLUEPRINTS = (blp, recalls)
for _blueprint in BLUEPRINTS:
    _blueprint.before_request(authenticate_back_office)

RECALLERS = WRITERS_OF_MASTER_DATA


class UnitPage(SelectPage):
    """A page of units, answered as rows with their codes and place names."""

    def present(self, items):
        return lots.unit_rows(items)


# --- schemas ------------------------------------------------------------------------------------

def level_field(**kwargs):
    return ma.fields.Enum(Level, by_value=True, **kwargs)


def status_field(**kwargs):
    return ma.fields.Enum(UnitStatus, by_value=True, **kwargs)


def public_notice_field(**kwargs):
    return ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=500), metadata={
        "description": "What the printed URL's browser page tells whoever opens a recalled unit (how to return "
                       "it, whom to call), shown as written; null: the page gives the general steps only"}, **kwargs)


class TracePlaceSchema(ma.Schema):
    kind = ma.fields.Enum(LocationKind, by_value=True, allow_none=True)
    id = Int(allow_none=True)
    name = ma.fields.String(allow_none=True, metadata={"description": "The line, warehouse, dealer or store name"})
    in_transit = ma.fields.Boolean(metadata={"description": "Shipped towards this place, not yet received"})


class RecallReadSchema(ma.Schema):
    id = Int()
    lot_id = Int(allow_none=True, metadata={"description": "The production lot recalled (a recall by lot)"})
    raw_material_lot_id = Int(allow_none=True, metadata={
        "description": "The raw-material lot whose consuming production lots were recalled (a recall by raw material)"})
    reason = ma.fields.String(metadata={"description": "Internal: dealers, stores and the ERP see it, the public never"})
    public_notice = public_notice_field(dump_only=True)
    units = Int(metadata={"description": "Units this recall marked"})
    created_by = ma.fields.String()
    created_at = ma.fields.DateTime()


class UnitRefSchema(ma.Schema):
    code = ma.fields.String()
    level = level_field()
    status = status_field()


class TreeNodeSchema(UnitRefSchema):
    children = ma.fields.List(ma.fields.Nested(lambda: TreeNodeSchema()))


class TimelineEntrySchema(ma.Schema):
    id = Int()
    kind = ma.fields.Enum(EventKind, by_value=True)
    code = ma.fields.String(metadata={"description": "The code the event was written on"})
    via = ma.fields.String(allow_none=True, metadata={
        "description": "Set when the event is the case's or pallet's the unit was inside: that code"})
    parent_code = ma.fields.String(allow_none=True, metadata={"description": "pack, unpack, remove: the parent"})
    occurred_at = ma.fields.DateTime(metadata={"description": "Scan time the client reported"})
    recorded_at = ma.fields.DateTime()
    location = ma.fields.Nested(TracePlaceSchema, allow_none=True)
    lot_id = Int(allow_none=True)
    corrects_event_id = Int(allow_none=True)
    corrected_by = ma.fields.List(Int(), metadata={"description": "Ids of the events correcting this one"})
    data = ma.fields.Dict(allow_none=True)


class LotBriefSchema(ProductionLotReadSchema):
    factory_name = ma.fields.String(attribute="factory.name")
    line_name = ma.fields.String(attribute="line.name", allow_none=True)


class TraceConsumerScanSchema(ma.Schema):
    id = Int()
    code = ma.fields.String(metadata={"description": "The code scanned (an earlier label's, when replaced)"})
    scanned_at = ma.fields.DateTime()
    verdict = ma.fields.String(metadata={"description": "genuine, scanned_before, suspected_copy, ..."})
    scan_number = Int(metadata={"description": "The unit's nth consumer scan"})
    region_code = ma.fields.String(allow_none=True)
    region_name = ma.fields.String(allow_none=True)
    app_user_id = Int()
    openid = Masked(OPENID)


class TraceDrawSchema(ma.Schema):
    id = Int()
    scan_id = Int()
    drawn_at = ma.fields.DateTime()
    campaign_id = Int()
    campaign_name = ma.fields.String(allow_none=True)
    outcome = ma.fields.String(metadata={"description": "won, lost, out_of_stock, budget_exhausted"})
    prize_kind = ma.fields.String(allow_none=True)
    prize_name = ma.fields.String(allow_none=True)
    amount = Int(metadata={"description": "Fen or points won (0 otherwise)"})
    app_user_id = Int()
    openid = Masked(OPENID)


class CodeTraceSchema(ma.Schema):
    code = ma.fields.String()
    commissioned = ma.fields.Boolean(metadata={"description": "false: issued, never bound to a unit"})
    level = level_field()
    batch = ma.fields.Nested(BatchBriefSchema)
    product = ma.fields.Nested(ProductBriefSchema, allow_none=True)
    status = status_field(allow_none=True)
    recall = ma.fields.Nested(RecallReadSchema, allow_none=True)
    lot = ma.fields.Nested(LotBriefSchema, allow_none=True)
    raw_materials = ma.fields.List(ma.fields.Nested(ConsumedRawLotSchema))
    location = ma.fields.Nested(TracePlaceSchema, allow_none=True)
    ancestors = ma.fields.List(ma.fields.Nested(UnitRefSchema), metadata={"description": "Parent first"})
    children = ma.fields.List(ma.fields.Nested(TreeNodeSchema))
    tree_size = Int()
    truncated = ma.fields.Boolean(metadata={"description": f"The tree was cut at {code_trace.TREE_CAP} nodes"})
    replaces = ma.fields.String(allow_none=True, metadata={"description": "The code whose label this one replaced"})
    replaced_by = ma.fields.String(allow_none=True)
    timeline = ma.fields.List(ma.fields.Nested(TimelineEntrySchema))
    consumer_scans = ma.fields.List(ma.fields.Nested(TraceConsumerScanSchema), metadata={
        "description": f"Consumer scans of the code, oldest first (the first {code_trace.CONSUMER_CAP})"})
    consumer_scans_total = Int()
    draws = ma.fields.List(ma.fields.Nested(TraceDrawSchema), metadata={
        "description": "Draws made on the code's scans (one per unit, ever), with campaign and prize"})
    epcs = ma.fields.List(ma.fields.Nested(EpcBindingSchema), metadata={
        "description": "RFID tags bound to the code: SGTIN-96 EPCs and TIDs, as hex"})


class PlaceCountSchema(TracePlaceSchema):
    units = Int()


class LotCountsSchema(ma.Schema):
    units = Int(metadata={"description": "Items of the lot, whatever their state"})
    active = Int()
    in_transit = Int()
    scrapped = Int()
    voided = Int()
    recalled = Int()
    by_kind = ma.fields.Dict(keys=ma.fields.String(), values=Int(),
                             metadata={"description": "Active items per location kind"})
    by_location = ma.fields.List(ma.fields.Nested(PlaceCountSchema))
    recalls = ma.fields.List(ma.fields.Nested(RecallReadSchema))


class LotSummarySchema(LotCountsSchema):
    lot = ma.fields.Nested(LotBriefSchema)


class UnitRowSchema(ma.Schema):
    code = ma.fields.String()
    level = level_field()
    status = status_field()
    product_id = Int(allow_none=True)
    lot_id = Int(allow_none=True)
    location = ma.fields.Nested(TracePlaceSchema)
    in_transit = ma.fields.Boolean()
    parent_code = ma.fields.String(allow_none=True)
    recall_id = Int(allow_none=True)
    commissioned_at = ma.fields.DateTime()


class UnitFilterSchema(ma.Schema):
    level = ma.fields.String(validate=ma.validate.OneOf([lv.value for lv in Level]),
                             metadata={"description": "Default item"})
    location_kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in LocationKind]))
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in UnitStatus]))


class UnitQuerySchema(UnitFilterSchema):
    recalled = ma.fields.Boolean()


class LotUnitQuerySchema(UnitQuerySchema):
    location_id = Int()
    in_transit = ma.fields.Boolean()


class LotUsageSchema(ma.Schema):
    production_lot = ma.fields.Nested(LotBriefSchema, attribute="consumption.production_lot")
    quantity = ma.fields.Decimal(attribute="consumption.quantity", as_string=True, allow_none=True)
    summary = ma.fields.Nested(LotCountsSchema)


class RawMaterialTraceSchema(ma.Schema):
    raw_material_lot = ma.fields.Nested(RawMaterialLotReadSchema)
    units = Int(metadata={"description": "Items of every production lot that used it"})
    lots = ma.fields.List(ma.fields.Nested(LotUsageSchema))


def reason_field():
    return ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))


class RecallCreateSchema(ma.Schema):
    reason = reason_field()
    public_notice = public_notice_field(load_default=None)


class RecallNoticeSchema(ma.Schema):
    public_notice = public_notice_field(required=True)


class RecallQuerySchema(ma.Schema):
    lot_id = Int(metadata={"description": "Recalls covering this production lot (by lot or by raw material)"})
    raw_material_lot_id = Int()


class RecallLotSchema(ma.Schema):
    lot_id = Int()
    lot_no = ma.fields.String()
    product_id = Int()
    units = Int(metadata={"description": "Units this recall marked in the lot (items, cases, pallets)"})


class RegionRefSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String(allow_none=True)


class RecallPartySchema(ma.Schema):
    kind = ma.fields.String(metadata={"enum": ["dealer", "store"]})
    id = Int()
    name = ma.fields.String(allow_none=True)
    tier = Int(allow_none=True, metadata={"description": "Dealers"})
    regions = ma.fields.List(ma.fields.Nested(RegionRefSchema),
                             metadata={"description": "A store's region; a dealer's territory"})
    passed_through = Int(metadata={"description": "Recalled items shipped to or by it, held by it or sold there"})
    held_now = Int()
    in_transit_to = Int(metadata={"description": "Shipped to it, not yet received"})
    sold = Int(metadata={"description": "Stores: sale-scanned there"})


class RecallReachSchema(ma.Schema):
    id = Int(attribute="recall.id")
    lot_id = Int(attribute="recall.lot_id", allow_none=True)
    raw_material_lot_id = Int(attribute="recall.raw_material_lot_id", allow_none=True)
    reason = ma.fields.String(attribute="recall.reason")
    public_notice = public_notice_field(attribute="recall.public_notice", dump_only=True)
    units = Int(attribute="recall.units", metadata={"description": "Units this recall marked (items, cases, pallets)"})
    created_by = ma.fields.String(attribute="recall.created_by")
    created_at = ma.fields.DateTime(attribute="recall.created_at")
    lots = ma.fields.List(ma.fields.Nested(RecallLotSchema))
    items = Int(metadata={"description": "Recalled items (the sum of by_place)"})
    by_place = ma.fields.Dict(keys=ma.fields.String(), values=Int(), metadata={
        "description": "Recalled items by where they are now: " + ", ".join(reach.PLACES)})
    scanned_by_consumers = Int(metadata={"description": "Recalled items a consumer has scanned (any place)"})
    dealers = Int()
    stores = Int()
    parties = ma.fields.List(ma.fields.Nested(RecallPartySchema), metadata={
        "description": "Every dealer and store the recalled items passed through"})


class RecallPreviewSchema(ma.Schema):
    lot_id = Int(allow_none=True)
    raw_material_lot_id = Int(allow_none=True)
    units = Int(metadata={"description": "Units the recall would mark now (items, cases, pallets); 0: all recalled"})
    lots = ma.fields.List(ma.fields.Nested(RecallLotSchema))
    items = Int(metadata={"description": "Items the recall would mark (the sum of by_place)"})
    by_place = ma.fields.Dict(keys=ma.fields.String(), values=Int(), metadata={
        "description": "Those items by where they are now: " + ", ".join(reach.PLACES)})
    scanned_by_consumers = Int()
    dealers = Int()
    stores = Int()
    parties = ma.fields.List(ma.fields.Nested(RecallPartySchema), metadata={
        "description": "Every dealer and store those items passed through (the ones the recall would notify)"})


class RecallUnitQuerySchema(UnitFilterSchema):
    in_transit = ma.fields.Boolean()


class CorrectionCreateSchema(ma.Schema):
    lot_id = Int(required=True, metadata={"description": "The lot the item really belongs to (same product)"})
    reason = reason_field()


class CorrectionReadSchema(ma.Schema):
    code = ma.fields.String()
    lot_id = Int(attribute="unit_lot_id")
    event = ma.fields.Nested(TimelineEntrySchema)


# --- codes --------------------------------------------------------------------------------------

@blp.route("/codes/<code>", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@blp.response(200, CodeTraceSchema)
def trace_code(code):
    """Trace a code (or an RFID tag bound to one): product, lot, raw materials, place, parents, children, timeline"""
    return code_trace.trace_code(code)


@blp.route("/codes/<code>/epcis", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@blp.response(200, content_type="application/ld+json", description="An EPCIS 2.0 EPCISDocument (JSON-LD)")
def export_code_epcis(code):
    """Export a code's history as an EPCIS 2.0 JSON-LD document (a download)"""
    document = epcis_export.unit_document(code)
    name = f"epcis-{document_code(code)}.jsonld"
    return Response(json.dumps(document, ensure_ascii=False, indent=1), mimetype="application/ld+json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def document_code(code: str) -> str:
    """The code as a file name may hold it."""
    return "".join(c for c in code if c.isalnum())[:64] or "code"


@blp.route("/codes/<code>/corrections", methods=["POST"])
@roles(*RECALLERS)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@blp.arguments(CorrectionCreateSchema)
@blp.response(201, CorrectionReadSchema)
def correct_unit_lot(body, code):
    """Correct the lot of an item commissioned into the wrong one (a CORRECT event)"""
    with transaction():
        return corrections.correct_unit_lot(actor=current_actor(), code=code, **body)


# --- production lots ----------------------------------------------------------------------------

@blp.route("/lots/<int:lot_id>", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@blp.response(200, LotSummarySchema)
def lot_summary(lot_id):
    """Where a lot's items are: counts by place, in transit, scrapped, recalled"""
    return lots.lot_summary(lot_id)


@blp.route("/lots/<int:lot_id>/units", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@blp.arguments(LotUnitQuerySchema, location="query")
@blp.response(200, UnitRowSchema(many=True))
@blp.paginate(UnitPage)
def lot_units(query, lot_id):
    """The recall view: the lot's items (or cases, pallets) and where each is now"""
    return lots.lot_units(lot_id=lot_id, **query)


@blp.route("/lots/<int:lot_id>/recall", methods=["POST"])
@roles(*RECALLERS)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@blp.arguments(RecallCreateSchema)
@blp.response(201, RecallReachSchema)
def recall_lot(body, lot_id):
    """Recall a lot: mark its active units recalled (again: only those not yet recalled); answer its reach"""
    with transaction():
        recall = recalls_service.recall_lot(actor=current_actor(), lot_id=lot_id, **body)
    return recalls_service.recall_reach(recall.id)


@blp.route("/lots/<int:lot_id>/recall-preview", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@blp.response(200, RecallPreviewSchema)
def preview_lot_recall(lot_id):
    """What recalling a lot would reach now (items by place, every dealer and store), before confirming it"""
    return recalls_service.preview_lot_recall(lot_id)


# --- raw-material lots --------------------------------------------------------------------------

@blp.route("/raw-material-lots/<int:raw_lot_id>", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@blp.response(200, RawMaterialTraceSchema)
def raw_material_trace(raw_lot_id):
    """Trace a raw-material lot forward: the production lots that used it and where their items are"""
    return lots.raw_material_trace(raw_lot_id)


@blp.route("/raw-material-lots/<int:raw_lot_id>/recall", methods=["POST"])
@roles(*RECALLERS)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@blp.arguments(RecallCreateSchema)
@blp.response(201, RecallReachSchema)
def recall_raw_material_lot(body, raw_lot_id):
    """Recall every production lot that consumed a raw-material lot, as one recall; answer its reach"""
    with transaction():
        recall = recalls_service.recall_raw_material_lot(actor=current_actor(), raw_lot_id=raw_lot_id, **body)
    return recalls_service.recall_reach(recall.id)


@blp.route("/raw-material-lots/<int:raw_lot_id>/recall-preview", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@blp.response(200, RecallPreviewSchema)
def preview_raw_material_recall(raw_lot_id):
    """What recalling a raw-material lot would reach now (every lot that consumed it), before confirming it"""
    return recalls_service.preview_raw_material_recall(raw_lot_id)


@blp.route("/raw-material-lots/<int:raw_lot_id>/units", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@blp.arguments(UnitQuerySchema, location="query")
@blp.response(200, UnitRowSchema(many=True))
@blp.paginate(UnitPage)
def units_using(query, raw_lot_id):
    """The units of every production lot that used a raw-material lot"""
    return lots.units_using(raw_lot_id=raw_lot_id, **query)


# --- recalls ------------------------------------------------------------------------------------

@recalls.route("", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@recalls.arguments(RecallQuerySchema, location="query")
@recalls.response(200, RecallReadSchema(many=True))
@recalls.paginate(SelectPage)
def list_recalls(query):
    """List recalls (newest first)"""
    return recalls_service.list_recalls(**query)


@recalls.route("/<int:recall_id>", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@recalls.response(200, RecallReachSchema)
def get_recall(recall_id):
    """Get a recall with its reach: items by place now, every dealer and store they passed through"""
    return recalls_service.recall_reach(recall_id)


@recalls.route("/<int:recall_id>", methods=["PATCH"])
@roles(*RECALLERS)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@recalls.arguments(RecallNoticeSchema)
@recalls.response(200, RecallReadSchema)
def set_recall_public_notice(body, recall_id):
    """Change what a recalled unit's printed URL tells the public"""
    with transaction():
        return recalls_service.set_recall_public_notice(actor=current_actor(), recall_id=recall_id, **body)


@recalls.route("/<int:recall_id>/units", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a code's or lot's trace spans every region it passed through; a recall is brand-wide")
@recalls.arguments(RecallUnitQuerySchema, location="query")
@recalls.response(200, UnitRowSchema(many=True))
@recalls.paginate(UnitPage)
def recalled_units(query, recall_id):
    """The recall's units (items by default) and where each is now"""
    return recalls_service.recalled_units(recall_id=recall_id, **query)
