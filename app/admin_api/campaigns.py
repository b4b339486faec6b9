"""Consumer campaigns in the back office: prizes, budgets, limits, and their status.

Admins and marketers write; every back-office role reads.
"""
from __future__ import annotations


import marshmallow as ma
from flask_smorest import Blueprint

from app.admin_api.approvals import ApprovalRequestSchema, accepted_or
from app.admin_api.audit import AuditReadSchema
from app.approvals import flows
from app.campaigns import service
from app.campaigns.models import PPM, CampaignStatus, PrizeKind
from app.db import transaction
from app.http import (
    ALL_ROLES,
    SelectPage,
    authenticate_back_office,
    current_actor,
    national_only,
    not_regional,
    roles,
)
from app.identity.models import Role
from app.identity.personal_data import OPENID
from app.schemas import Int, Masked, UtcTime

blp = Blueprint("admin_campaigns", __name__, url_prefix="/api/admin/campaigns",
                description="Consumer campaigns: prizes with exact odds, budgets, limits, status.")
blp.before_request(authenticate_back_office)
BLUEPRINTS = (blp,)

WRITERS = (Role.ADMIN, Role.MARKETER)
ADCODE = ma.validate.Regexp(r"^\d{12}$")
MAX_FEN = 10**15
MAX_LIST = 1000


def _time(**kwargs):
    return UtcTime(**kwargs)


class AdminPrizeWriteSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf([k.value for k in PrizeKind]))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    amount = Int(validate=ma.validate.Range(min=0, max=MAX_FEN),
                 metadata={"description": "Fen for cash, points for points; 0 for a coupon or gift"})
    probability_ppm = Int(required=True, validate=ma.validate.Range(min=0, max=PPM),
                          metadata={"description": "Parts per million (1,000,000 = always)"})
    stock = Int(allow_none=True, validate=ma.validate.Range(min=0, max=2**31 - 1),
                metadata={"description": "None: unlimited"})


class AdminPrizeReadSchema(ma.Schema):
    id = Int()
    kind = ma.fields.Enum(PrizeKind, by_value=True)
    name = ma.fields.String()
    amount = Int()
    probability_ppm = Int()
    stock = Int(allow_none=True)
    awarded = Int()


class AdminCampaignUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    starts_at = _time()
    ends_at = _time()
    total_budget_fen = Int(validate=ma.validate.Range(min=0, max=MAX_FEN))
    daily_budget_fen = Int(allow_none=True, validate=ma.validate.Range(min=0, max=MAX_FEN),
                           metadata={"description": "None: no daily cap"})
    per_user_daily_limit = Int(validate=ma.validate.Range(min=1, max=10_000))
    per_user_total_limit = Int(validate=ma.validate.Range(min=1, max=1_000_000))
    hidden_code_required = ma.fields.Boolean()
    first_scan_only = ma.fields.Boolean()
    product_ids = ma.fields.List(Int(validate=ma.validate.Range(min=1)), validate=ma.validate.Length(max=MAX_LIST),
                                 metadata={"description": "Empty: every product"})
    lot_ids = ma.fields.List(Int(validate=ma.validate.Range(min=1)), validate=ma.validate.Length(max=MAX_LIST),
                             metadata={"description": "Empty: every lot"})
    region_codes = ma.fields.List(ma.fields.String(validate=ADCODE), validate=ma.validate.Length(max=MAX_LIST),
                                  metadata={"description": "Provinces, cities or districts; empty: everywhere"})
    blacklist = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
                               validate=ma.validate.Length(max=10_000),
                               metadata={"description": "Consumer openids never drawn"})
    prizes = ma.fields.List(ma.fields.Nested(AdminPrizeWriteSchema), validate=ma.validate.Length(max=50),
                            metadata={"description": "Replaces the prize list (only while none was awarded)"})


class AdminCampaignCreateSchema(AdminCampaignUpdateSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    starts_at = _time(required=True)
    ends_at = _time(required=True)
    total_budget_fen = Int(required=True, validate=ma.validate.Range(min=0, max=MAX_FEN))


class AdminCampaignReadSchema(ma.Schema):
    id = Int()
    name = ma.fields.String()
    status = ma.fields.Enum(CampaignStatus, by_value=True)
    starts_at = ma.fields.DateTime()
    ends_at = ma.fields.DateTime()
    total_budget_fen = Int()
    daily_budget_fen = Int(allow_none=True)
    spent_fen = Int()
    per_user_daily_limit = Int()
    per_user_total_limit = Int()
    hidden_code_required = ma.fields.Boolean()
    first_scan_only = ma.fields.Boolean()
    product_ids = ma.fields.List(Int())
    lot_ids = ma.fields.List(Int())
    region_codes = ma.fields.List(ma.fields.String())
    blacklist = ma.fields.List(Masked(OPENID))
    created_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    prizes = ma.fields.Method("_prizes")

    def _prizes(self, campaign):
        return AdminPrizeReadSchema(many=True).dump(service.prizes_of(campaign.id))


class AdminCampaignQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in CampaignStatus]))
    q = ma.fields.String(validate=ma.validate.Length(max=200), metadata={"description": "Part of the name"})


@blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("campaigns are brand configuration: a campaign may target regions but holds no region's data")
@blp.arguments(AdminCampaignQuerySchema, location="query")
@blp.response(200, AdminCampaignReadSchema(many=True))
@blp.paginate(SelectPage)
def list_campaigns(query):
    """Campaigns, newest first"""
    return service.list_campaigns(**query)


@blp.route("", methods=["POST"])
@roles(*WRITERS)
@national_only("brand-wide configuration is written by users who see the whole country")
@blp.arguments(AdminCampaignCreateSchema)
@blp.response(201, AdminCampaignReadSchema)
def create_campaign(body):
    """Create a campaign (a draft) with its prizes"""
    with transaction():
        return service.create_campaign(actor=current_actor(), data=body)


@blp.route("/<int:campaign_id>", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("campaigns are brand configuration: a campaign may target regions but holds no region's data")
@blp.response(200, AdminCampaignReadSchema)
def get_campaign(campaign_id):
    """A campaign with its prizes"""
    return service.get_campaign(campaign_id)


@blp.route("/<int:campaign_id>", methods=["PATCH"])
@roles(*WRITERS)
@national_only("brand-wide configuration is written by users who see the whole country")
@blp.arguments(AdminCampaignUpdateSchema)
@blp.response(200, AdminCampaignReadSchema)
def update_campaign(body, campaign_id):
    """Change a campaign (audited; an ended campaign is final; a running one is not raised past dual control)"""
    with transaction():  # a deadlock with a claim on the same campaign runs it again (app.http.retry_writes)
        return flows.update_campaign(actor=current_actor(), campaign_id=campaign_id, changes=body)


@blp.route("/<int:campaign_id>/activate", methods=["POST"])
@roles(*WRITERS)
@national_only("brand-wide configuration is written by users who see the whole country")
@blp.response(200, AdminCampaignReadSchema)
@blp.alt_response(202, schema=ApprovalRequestSchema, description="A cash campaign with a budget above "
                  "DUAL_CONTROL_CAMPAIGN_BUDGET_FEN: a second person approves the request")
def activate_campaign(campaign_id):
    """Activate a draft or paused campaign (a large cash budget: 202, a second person approves)"""
    with transaction():
        made = flows.activate_campaign(actor=current_actor(), campaign_id=campaign_id)
    return accepted_or(made)


@blp.route("/<int:campaign_id>/pause", methods=["POST"])
@roles(*WRITERS)
@national_only("brand-wide configuration is written by users who see the whole country")
@blp.response(200, AdminCampaignReadSchema)
def pause_campaign(campaign_id):
    """Pause an active campaign"""
    with transaction():
        return service.change_status(actor=current_actor(), campaign_id=campaign_id, action="pause")


@blp.route("/<int:campaign_id>/end", methods=["POST"])
@roles(*WRITERS)
@national_only("brand-wide configuration is written by users who see the whole country")
@blp.response(200, AdminCampaignReadSchema)
def end_campaign(campaign_id):
    """End a campaign (final)"""
    with transaction():
        return service.change_status(actor=current_actor(), campaign_id=campaign_id, action="end")


@blp.route("/<int:campaign_id>/history", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("campaigns are brand configuration: a campaign may target regions but holds no region's data")
@blp.response(200, AuditReadSchema(many=True))
@blp.paginate(SelectPage)
def campaign_history(campaign_id):
    """A campaign's change history (created, changed, activated, paused, ended), newest first"""
    return service.history_of(campaign_id)
