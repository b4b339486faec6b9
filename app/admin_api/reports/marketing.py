"""Marketing reports: campaigns (conversion, prizes, payouts, spend against budget) and consumers (scan heat
by region, segments by frequency, product and region)."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.admin_api.reports.common import PeriodQuerySchema, ReportReadSchema, caller_regions, period_of, report_view
from app.http import authenticate_back_office
from app.identity.models import Role
from app.reports import campaigns, consumers, service
from app.schemas import Int

blp = Blueprint("admin_reports_marketing", __name__, url_prefix="/api/admin/reports",
                description="Reports: campaigns and consumers, read from rollups kept as the facts happen.")
blp.before_request(authenticate_back_office)

READERS = (Role.ADMIN, Role.MARKETER, Role.FINANCE, Role.AUDITOR)
HEAT_READERS = (*READERS, Role.OPS)


# --- schemas ------------------------------------------------------------------------------------

class CampaignReportQuerySchema(PeriodQuerySchema):
    by = ma.fields.String(load_default="province", validate=ma.validate.OneOf(campaigns.REGION_LEVELS),
                          metadata={"description": "by_region counts per province (default) or city"})


class HeatQuerySchema(PeriodQuerySchema):
    level = ma.fields.String(load_default="province", validate=ma.validate.OneOf(consumers.HEAT_LEVELS),
                             metadata={"description": "province (default) or city"})


def _fen(description: str = "", **kwargs):
    return Int(allow_none=True, metadata={"description": description}, **kwargs)


class FiguresSchema(ma.Schema):
    scans = Int(metadata={"description": "Consumer scans of the campaign's products and lots in its regions, on "
                                         "its days (any verdict)"})
    genuine_first_scans = Int(metadata={"description": "Of them, the units' genuine first scans"})
    participants = Int(metadata={"description": "Consumer-days with a draw: new + returning"})
    new_participants = Int(metadata={"description": "Consumers whose first draw in the campaign ever was then"})
    returning_participants = Int(metadata={"description": "Days of consumers who had drawn in it before"})
    claims = Int(metadata={"description": "Draws"})
    wins = Int()
    win_rate = ma.fields.Float(allow_none=True, metadata={"description": "wins / claims (4 decimals); null: no claim"})
    cash_awarded_fen = Int()
    points_awarded = Int()
    paid_fen = Int(metadata={"description": "Prize payouts that succeeded (on the day they did)"})
    failed_fen = Int(metadata={"description": "Prize payouts that failed or were cancelled (money back)"})
    cost_per_participant_fen = _fen("(cash awarded - failed) / participants, rounded down; null: none")
    cost_per_first_scan_fen = _fen("(cash awarded - failed) / genuine first scans, rounded down; null: none")


class BudgetSchema(ma.Schema):
    total_budget_fen = _fen("The campaign's total budget (null for a regional user: a whole-campaign figure)")
    daily_budget_fen = _fen("Its daily budget (null: none, or a regional user)")
    spent_fen = _fen("Spent so far, the whole campaign (now)")
    remaining_fen = _fen("total budget - spent")
    spent_in_period_fen = _fen("Spent on the period's days (the days' spend now)")


class CampaignBriefSchema(BudgetSchema):
    campaign_id = Int()
    name = ma.fields.String()
    status = ma.fields.String()
    starts_at = ma.fields.DateTime()
    ends_at = ma.fields.DateTime()


class CampaignRowSchema(CampaignBriefSchema, FiguresSchema):
    pass


class CampaignsReportSchema(ReportReadSchema):
    rows = ma.fields.List(ma.fields.Nested(CampaignRowSchema), metadata={
        "description": "One row per campaign whose window meets the period"})


class CampaignDaySchema(FiguresSchema):
    day = ma.fields.Date()
    budget_fen = _fen("The daily budget in force that day (null: none, or a regional user)")
    spent_fen = _fen("Spent that day (null for a regional user)")


class RegionSchema(ma.Schema):
    region_code = ma.fields.String(metadata={"description": "12-digit adcode of the province or city"})
    region_name = ma.fields.String(allow_none=True)
    longitude = ma.fields.Float(allow_none=True, metadata={"description": "Centroid, for a map"})
    latitude = ma.fields.Float(allow_none=True)


class CampaignRegionSchema(RegionSchema, FiguresSchema):
    pass


class CampaignReportSchema(ReportReadSchema):
    campaign = ma.fields.Nested(CampaignBriefSchema)
    totals = ma.fields.Nested(FiguresSchema)
    level = ma.fields.String(metadata={"description": "by_region's level: province or city"})
    by_day = ma.fields.List(ma.fields.Nested(CampaignDaySchema), metadata={"description": "Every day of the period"})
    by_region = ma.fields.List(ma.fields.Nested(CampaignRegionSchema), metadata={
        "description": "Located scans and draws per region, most participants first"})


class HeatRowSchema(RegionSchema):
    scans = Int()
    first_scans = Int(metadata={"description": "Units' first consumer scans (any verdict)"})
    genuine_first_scans = Int()
    consumers = Int(metadata={"description": "Distinct consumers (in the region of their first scan of a day)"})


class HeatReportSchema(ReportReadSchema):
    level = ma.fields.String()
    rows = ma.fields.List(ma.fields.Nested(HeatRowSchema), metadata={"description": "Most scans first"})


class FrequencySegmentSchema(ma.Schema):
    segment = ma.fields.String(metadata={"description": "Scans in the period: 1, 2-3, 4-9 or 10+"})
    consumers = Int()
    scans = Int()


class ProductSegmentSchema(ma.Schema):
    product_id = Int()
    product_name = ma.fields.String(allow_none=True)
    scans = Int()
    first_scans = Int()
    genuine_first_scans = Int()


class SegmentsReportSchema(ReportReadSchema):
    consumers = Int(metadata={"description": "Distinct consumers who scanned in the period"})
    frequency = ma.fields.List(ma.fields.Nested(FrequencySegmentSchema))
    products = ma.fields.List(ma.fields.Nested(ProductSegmentSchema), metadata={"description": "Most scans first"})
    regions = ma.fields.List(ma.fields.Nested(HeatRowSchema), metadata={"description": "Per province"})


# --- views --------------------------------------------------------------------------------------

@report_view(blp, "/campaigns", readers=READERS, query=PeriodQuerySchema, answer=CampaignsReportSchema, name="campaigns")
def campaigns_report(query):
    """Every campaign of the period: scans, participants, claims, wins, prizes, payouts, spend and costs"""
    period = period_of(query)
    return {"as_of": service.as_of(), "period": period,
            "rows": campaigns.campaign_rows(period=period, regions=caller_regions())}


@report_view(blp, "/campaigns/<int:campaign_id>", readers=READERS, query=CampaignReportQuerySchema, answer=CampaignReportSchema, key="by_day", name="campaign")
def campaign_report(query, campaign_id):
    """One campaign over the period: totals, by day (with the day's budget) and by province or city"""
    period = period_of(query)
    report = campaigns.campaign_report(campaign_id=campaign_id, period=period, by=query["by"],
                                       regions=caller_regions())
    return {"as_of": service.as_of(), "period": period, **vars(report)}


@report_view(blp, "/consumers/heat", readers=HEAT_READERS, query=HeatQuerySchema, answer=HeatReportSchema, name="consumer-heat")
def consumer_heat(query):
    """Scans, first scans and consumers per province or city, with centroids for a map"""
    period = period_of(query)
    return {"as_of": service.as_of(), "period": period, "level": query["level"],
            "rows": consumers.heat(period=period, level=query["level"], regions=caller_regions())}


@report_view(blp, "/consumers/segments", readers=READERS, query=PeriodQuerySchema, answer=SegmentsReportSchema, key="frequency", name="consumer-segments")
def consumer_segments(query):
    """Consumers by scan frequency in the period; scans by product; consumers and scans by province"""
    period = period_of(query)
    return {"as_of": service.as_of(), "period": period,
            **vars(consumers.segments(period=period, regions=caller_regions()))}
