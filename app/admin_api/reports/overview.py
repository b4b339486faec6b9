"""The overview: every department's KPIs for today, 7 and 30 days, with the period before and daily trends."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.admin_api.reports.common import caller_regions, report_view
from app.http import ALL_ROLES, authenticate_back_office
from app.reports import service
from app.schemas import Int

blp = Blueprint("admin_reports_overview", __name__, url_prefix="/api/admin/reports",
                description="Reports: KPIs for every department, read from rollups kept as the facts happen.")
blp.before_request(authenticate_back_office)


def _figures(description: str):
    return ma.fields.Dict(keys=ma.fields.String(), values=Int(), metadata={"description": description})


class WindowReadSchema(ma.Schema):
    days = Int(metadata={"description": "1 (today), 7 or 30 days up to today"})
    first = ma.fields.Date(attribute="period.first", data_key="from")
    last = ma.fields.Date(attribute="period.last", data_key="to")
    values = _figures("Each KPI over the window: " + ", ".join([*service.KPIS, "consumers"]))
    previous = _figures("The same KPIs over the window just before (for comparison)")


TrendPointSchema = ma.Schema.from_dict(
    {"day": ma.fields.Date(), **{name: Int() for name in [*service.KPIS, "consumers"]}}, name="TrendPointSchema")


class OverviewReadSchema(ma.Schema):
    as_of = ma.fields.DateTime(metadata={"description": "The figures are current as of this instant (UTC)"})
    scans_pending = Int(metadata={"description": "Consumer scans logged but not yet counted (-1: unknown)"})
    windows = ma.fields.List(ma.fields.Nested(WindowReadSchema))
    trend = ma.fields.List(ma.fields.Nested(TrendPointSchema), metadata={"description": "The last 30 days, one "
                                                                         "entry per day with every KPI"})
    payouts_in_doubt = ma.fields.Dict(metadata={"description": "{count, amount_fen} of payouts in doubt now "
                                                "(whole country only)"})


@report_view(blp, "/overview", readers=ALL_ROLES, answer=OverviewReadSchema, key="trend", name="overview")
def overview():
    """KPIs for today, 7 and 30 days, each beside the period before, with daily trends"""
    return service.overview(regions=caller_regions())
