"""Operations reports: production output, channel flows, sell-through and case opening, rankings, diversion."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.admin_api.reports.common import PeriodQuerySchema, ReportReadSchema, caller_regions, period_of, report_view
from app.http import authenticate_back_office
from app.identity.models import Role
from app.reports import channel, production
from app.schemas import Int

blp = Blueprint("admin_reports_operations", __name__, url_prefix="/api/admin/reports",
                description="Reports: production output, channel flows, sell-through (动销) and case opening "
                            "(开箱), store and clerk rankings, diversion (窜货).")
blp.before_request(authenticate_back_office)

PRODUCTION_READERS = (Role.ADMIN, Role.OPS, Role.AUDITOR)
CHANNEL_READERS = (Role.ADMIN, Role.OPS, Role.FINANCE, Role.AUDITOR)


def _by_query(name: str, dimensions, example: str) -> type[ma.Schema]:
    """A period and the dimensions to break it down by (checked by the report: a 422 names `by`)."""
    return type(name, (PeriodQuerySchema,), {
        "by": ma.fields.String(load_default=None, validate=ma.validate.Length(max=100), metadata={
            "description": f"One or two of {', '.join(dimensions)}, comma-separated (default day), e.g. {example}"}),
    })


ProductionQuerySchema = _by_query("ProductionQuerySchema", production.DIMENSIONS, "day,line")
FlowsQuerySchema = _by_query("ChannelFlowsQuerySchema", channel.FLOW_DIMENSIONS, "tier,day")
SellThroughQuerySchema = _by_query("SellThroughQuerySchema", channel.SELL_DIMENSIONS, "province")
DiversionQuerySchema = _by_query("DiversionQuerySchema", channel.DIVERSION_DIMENSIONS, "province")


class RankingQuerySchema(PeriodQuerySchema):
    top = Int(load_default=10, validate=ma.validate.Range(min=1, max=channel.RANKING_MAX),
              metadata={"description": f"How many (1 to {channel.RANKING_MAX}, default 10)"})


def _figures(names, description: str, field=Int) -> dict:
    return {name: field(allow_none=True, metadata={"description": description}) for name in names}


def _dimension_fields() -> dict:
    """The dimension fields a row may have: a row has those of the `by` asked for (and their names)."""
    return {
        "day": ma.fields.Date(), "level": ma.fields.String(metadata={"description": "province, city or district"}),
        "region_code": ma.fields.String(), "region_name": ma.fields.String(allow_none=True),
        "longitude": ma.fields.Float(allow_none=True), "latitude": ma.fields.Float(allow_none=True),
        "product_id": Int(allow_none=True), "sku": ma.fields.String(allow_none=True),
        "product_name": ma.fields.String(allow_none=True),
    }


def _place_fields() -> dict:
    return {
        "warehouse_id": Int(), "warehouse_name": ma.fields.String(allow_none=True), "dealer_id": Int(),
        "dealer_name": ma.fields.String(allow_none=True), "tier": Int(allow_none=True), "store_id": Int(),
        "store_name": ma.fields.String(allow_none=True), "store_region_code": ma.fields.String(allow_none=True),
    }


def _row_schema(name: str, fields: dict) -> type[ma.Schema]:
    return ma.Schema.from_dict({**_dimension_fields(), **fields}, name=name)


ProductionRowSchema = _row_schema("ProductionRowSchema", {
    "lot_id": Int(), "lot_no": ma.fields.String(), "line_id": Int(allow_none=True),
    "line_name": ma.fields.String(allow_none=True), "factory_id": Int(allow_none=True),
    "factory_name": ma.fields.String(allow_none=True),
    "codes_issued": Int(allow_none=True, metadata={"description": "Codes issued (by day and product only; "
                                                                   "else null)"}),
    "items_commissioned": Int(), "items_packed": Int(metadata={"description": "Items put into cases"}),
    "cases_packed": Int(metadata={"description": "Cases put on pallets"}),
    "items_scrapped": Int(), "items_recalled": Int(),
})
FlowRowSchema = _row_schema("ChannelFlowRowSchema", {
    **_place_fields(),
    **_figures(channel.FLOW_MEASURES, "Items (receipts: how many); null where the figure has not the dimension"),
})
SellThroughRowSchema = _row_schema("SellThroughRowSchema", {
    **_place_fields(),
    "items_sold": Int(metadata={"description": "Items sale-scanned at stores (动销)"}),
    "items_unpacked": Int(metadata={"description": "Items taken out of their case at stores (开箱)"}),
    "stores_with_sales": Int(), "active_stores": Int(),
    "sell_through_rate": ma.fields.Float(allow_none=True, metadata={"description": "stores_with_sales / "
                                                                                    "active_stores"}),
})
DiversionRowSchema = _row_schema("DiversionRowSchema", {
    "dealer_id": Int(), "dealer_name": ma.fields.String(allow_none=True), "tier": Int(allow_none=True),
    "raised": Int(), "closed": Int(),
    "open_now": Int(allow_none=True, metadata={"description": "Open now (a state: null by day)"}),
})
StoreRankSchema = ma.Schema.from_dict({
    "rank": Int(), "store_id": Int(), "store_name": ma.fields.String(allow_none=True),
    "region_code": ma.fields.String(allow_none=True), "region_name": ma.fields.String(allow_none=True),
    "items_sold": Int()}, name="StoreRankSchema")
ClerkRankSchema = ma.Schema.from_dict({
    "rank": Int(), "app_user_id": Int(), "nickname": ma.fields.String(allow_none=True),
    "store_id": Int(allow_none=True), "store_name": ma.fields.String(allow_none=True),
    "region_code": ma.fields.String(allow_none=True), "sale_scans": Int()}, name="ClerkRankSchema")


def _report_schema(name: str, row_schema) -> type[ma.Schema]:
    return type(name, (ReportReadSchema,), {
        "by": ma.fields.List(ma.fields.String()),
        "rows": ma.fields.List(ma.fields.Nested(row_schema)),
    })


ProductionReadSchema = _report_schema("ProductionReadSchema", ProductionRowSchema)
FlowsReadSchema = _report_schema("ChannelFlowsReadSchema", FlowRowSchema)
SellThroughReadSchema = _report_schema("SellThroughReadSchema", SellThroughRowSchema)
DiversionReadSchema = _report_schema("DiversionReadSchema", DiversionRowSchema)
StoreRankingReadSchema = type("StoreRankingReadSchema", (ReportReadSchema,),
                              {"rows": ma.fields.List(ma.fields.Nested(StoreRankSchema))})
ClerkRankingReadSchema = type("ClerkRankingReadSchema", (ReportReadSchema,),
                              {"rows": ma.fields.List(ma.fields.Nested(ClerkRankSchema))})


@report_view(blp, "/production", readers=PRODUCTION_READERS, query=ProductionQuerySchema, answer=ProductionReadSchema, name="production")
def production_report(query):
    """Production output by day, line, factory, product or lot (one or two)"""
    return production.production(period=period_of(query), by=query["by"], regions=caller_regions())


@report_view(blp, "/channel/flows", readers=CHANNEL_READERS, query=FlowsQuerySchema, answer=FlowsReadSchema, name="channel-flows")
def channel_flows(query):
    """Goods in and out of warehouses, dealers (by tier) and stores, with receipt discrepancies"""
    return channel.flows(period=period_of(query), by=query["by"], regions=caller_regions())


@report_view(blp, "/sell-through", readers=CHANNEL_READERS, query=SellThroughQuerySchema, answer=SellThroughReadSchema, name="sell-through")
def sell_through(query):
    """Sell-through (动销) and case opening (开箱) by region, store, dealer, product or day"""
    return channel.sell_through(period=period_of(query), by=query["by"], regions=caller_regions())


@report_view(blp, "/rankings/stores", readers=CHANNEL_READERS, query=RankingQuerySchema, answer=StoreRankingReadSchema, name="store-ranking")
def store_ranking(query):
    """The stores that sold the most items over the period"""
    return channel.store_ranking(period=period_of(query), top=query["top"], regions=caller_regions())


@report_view(blp, "/rankings/clerks", readers=CHANNEL_READERS, query=RankingQuerySchema, answer=ClerkRankingReadSchema, name="clerk-ranking")
def clerk_ranking(query):
    """The clerks with the most sale scans over the period"""
    return channel.clerk_ranking(period=period_of(query), top=query["top"], regions=caller_regions())


@report_view(blp, "/diversion", readers=CHANNEL_READERS, query=DiversionQuerySchema, answer=DiversionReadSchema, name="diversion")
def diversion(query):
    """Diversion alerts raised, closed and open now by dealer, region (with centroids), product or day"""
    return channel.diversion(period=period_of(query), by=query["by"], regions=caller_regions())
