"""Clerk rewards and training in the back office: reward rules, courses, sale scans, ledgers, withdrawals,
the rate at which clerks turn points into cash.

Admins and marketers write rules and courses, admins and finance the points-to-cash rate; every
back-office role reads.
"""
from __future__ import annotations


import marshmallow as ma
from flask_smorest import Blueprint

from app.db import transaction
from app.http import (ALL_ROLES, SelectPage, authenticate_back_office, current_actor, current_scope, national_only,
                      not_regional, regional, roles)
from app.identity.models import Role
from app.masterdata.models import Status
from app.retail import conversions, ledger, reward_rules, sales, training
from app.retail import withdrawals as withdrawals_service
from app.retail.models import CourseStatus, RewardKind, WithdrawalStatus
from app.schemas import Int, UtcTime

rules_blp = Blueprint("admin_reward_rules", __name__, url_prefix="/api/admin/reward-rules",
                      description="What a clerk's sale scan earns: per product, region and period.")
courses_blp = Blueprint("admin_courses", __name__, url_prefix="/api/admin/courses",
                        description="Training courses for clerks, with quizzes that earn points.")
retail_blp = Blueprint("admin_retail", __name__, url_prefix="/api/admin/retail",
                       description="Sale scans, clerks' ledgers, points turned into cash and withdrawals.")
BLUEPRINTS = (rules_blp, courses_blp, retail_blp)
for _blueprint in BLUEPRINTS:
    _blueprint.before_request(authenticate_back_office)

WRITERS = (Role.ADMIN, Role.MARKETER)
RATE_WRITERS = (Role.ADMIN, Role.FINANCE)  # the rate pays cash out
ADCODE = ma.validate.Regexp(r"^\d{12}$")


def _time(**kwargs):
    return UtcTime(**kwargs)


# --- schemas ------------------------------------------------------------------------------------

class AdminRewardRuleReadSchema(ma.Schema):
    id = Int()
    name = ma.fields.String()
    product_id = Int(allow_none=True)
    region_code = ma.fields.String(allow_none=True)
    starts_at = ma.fields.DateTime()
    ends_at = ma.fields.DateTime()
    kind = ma.fields.Enum(RewardKind, by_value=True)
    amount = Int(metadata={"description": "Points, or fen"})
    withhold_not_received = ma.fields.Boolean()
    status = ma.fields.Enum(Status, by_value=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class AdminRewardRuleUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    product_id = Int(allow_none=True, metadata={"description": "None: every product"})
    region_code = ma.fields.String(allow_none=True, validate=ADCODE, metadata={
        "description": "A province, city or district: stores inside it; None: everywhere"})
    starts_at = _time()
    ends_at = _time()
    kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in RewardKind]))
    amount = Int(validate=ma.validate.Range(min=1), metadata={"description": "Points, or fen"})
    withhold_not_received = ma.fields.Boolean(metadata={
        "description": "No reward for a unit the store never received (default true)"})
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in Status]))


class AdminRewardRuleCreateSchema(AdminRewardRuleUpdateSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    starts_at = _time(required=True)
    ends_at = _time(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf([k.value for k in RewardKind]))
    amount = Int(required=True, validate=ma.validate.Range(min=1))


class AdminRewardRuleQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in Status]))
    product_id = Int()
    region_code = ma.fields.String(validate=ADCODE)
    active_at = _time()


class AdminQuestionWriteSchema(ma.Schema):
    question = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))
    options = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=200)), required=True,
                             validate=ma.validate.Length(min=2, max=training.MAX_OPTIONS))
    answer = Int(required=True, validate=ma.validate.Range(min=0, max=training.MAX_OPTIONS - 1),
                               metadata={"description": "Index of the right option"})


class AdminQuestionReadSchema(ma.Schema):
    question = ma.fields.String()
    options = ma.fields.List(ma.fields.String())
    answer = Int()


class AdminCourseUpdateSchema(ma.Schema):
    title = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    body = ma.fields.String(validate=ma.validate.Length(max=100_000))
    images = ma.fields.List(ma.fields.Url(validate=ma.validate.Length(max=500)),
                            validate=ma.validate.Length(max=50))
    video_url = ma.fields.Url(allow_none=True, validate=ma.validate.Length(max=500))
    points = Int(validate=ma.validate.Range(min=0, max=1_000_000),
                               metadata={"description": "Earned once, on the first pass"})
    pass_score = Int(validate=ma.validate.Range(min=0, max=100),
                                   metadata={"description": "Percent of questions right to pass"})
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in CourseStatus]))
    questions = ma.fields.List(ma.fields.Nested(AdminQuestionWriteSchema),
                               validate=ma.validate.Length(max=training.MAX_QUESTIONS),
                               metadata={"description": "Replaces the quiz"})


class AdminCourseCreateSchema(AdminCourseUpdateSchema):
    title = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


class AdminCourseBriefSchema(ma.Schema):
    id = Int()
    title = ma.fields.String()
    status = ma.fields.Enum(CourseStatus, by_value=True)
    points = Int()
    pass_score = Int()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class AdminCourseReadSchema(AdminCourseBriefSchema):
    body = ma.fields.String()
    images = ma.fields.List(ma.fields.String())
    video_url = ma.fields.String(allow_none=True)
    questions = ma.fields.List(ma.fields.Nested(AdminQuestionReadSchema))


class AdminCourseQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in CourseStatus]))
    q = ma.fields.String(validate=ma.validate.Length(max=200), metadata={"description": "Part of the title"})


class AdminSaleScanReadSchema(ma.Schema):
    id = Int()
    code = ma.fields.String()
    serial = Int()
    store_id = Int()
    app_user_id = Int()
    product_id = Int()
    lot_id = Int(allow_none=True)
    region_code = ma.fields.String()
    not_received = ma.fields.Boolean()
    rule_id = Int(allow_none=True)
    reward_kind = ma.fields.Enum(RewardKind, by_value=True, allow_none=True)
    reward_amount = Int()
    withheld = ma.fields.Boolean()
    scanned_at = ma.fields.DateTime()


class AdminSaleScanQuerySchema(ma.Schema):
    store_id = Int()
    product_id = Int()
    app_user_id = Int()
    not_received = ma.fields.Boolean()
    from_ = _time(data_key="from")
    to = _time()


class AdminLedgerEntrySchema(ma.Schema):
    id = Int()
    app_user_id = Int()
    kind = ma.fields.Enum(RewardKind, by_value=True)
    amount = Int()
    source = ma.fields.String()
    note = ma.fields.String()
    created_at = ma.fields.DateTime()


class AdminLedgerQuerySchema(ma.Schema):
    kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in RewardKind]))


class AdminBalanceSchema(ma.Schema):
    points = Int()
    cash = Int()


class AdminWithdrawalReadSchema(ma.Schema):
    id = Int()
    app_user_id = Int()
    request_id = ma.fields.String()
    amount = Int()
    status = ma.fields.Enum(WithdrawalStatus, by_value=True)
    payout_id = Int(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class AdminWithdrawalQuerySchema(ma.Schema):
    app_user_id = Int()
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in WithdrawalStatus]))


class AdminPointsCashRateSchema(ma.Schema):
    id = Int(dump_only=True)
    enabled = ma.fields.Boolean(load_default=True, metadata={
        "description": "False: clerks can't convert now", "label_zh": "开放兑换"})
    points = Int(required=True, validate=ma.validate.Range(min=1), metadata={
        "description": "A conversion is a whole number of these points...", "label_zh": "每档积分"})
    cash_fen = Int(required=True, attribute="fen", validate=ma.validate.Range(min=1), metadata={
        "description": "...each paid this many fen", "label_zh": "每档金额"})
    min_points = Int(load_default=0, validate=ma.validate.Range(min=0), metadata={
        "description": "The smallest conversion", "label_zh": "最少兑换积分"})
    created_by = ma.fields.String(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)


class AdminConversionReadSchema(ma.Schema):
    id = Int()
    app_user_id = Int()
    request_id = ma.fields.String()
    rate_id = Int(metadata={"label_zh": "兑换比例编号"})
    points = Int(metadata={"label_zh": "积分"})
    amount_fen = Int()
    created_at = ma.fields.DateTime()


class AdminConversionQuerySchema(ma.Schema):
    app_user_id = Int()
    from_ = _time(data_key="from")
    to = _time()


# --- reward rules -------------------------------------------------------------------------------

@rules_blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("reward rules are brand configuration: a rule may target a region but holds no region's data")
@rules_blp.arguments(AdminRewardRuleQuerySchema, location="query")
@rules_blp.response(200, AdminRewardRuleReadSchema(many=True))
@rules_blp.paginate(SelectPage)
def list_rules(query):
    """Reward rules, newest first"""
    return reward_rules.list_reward_rules(**query)


@rules_blp.route("", methods=["POST"])
@roles(*WRITERS)
@national_only("brand-wide configuration is written by users who see the whole country")
@rules_blp.arguments(AdminRewardRuleCreateSchema)
@rules_blp.response(201, AdminRewardRuleReadSchema)
def create_rule(body):
    """Create a reward rule"""
    with transaction():
        return reward_rules.create_reward_rule(actor=current_actor(), data=body)


@rules_blp.route("/<int:rule_id>", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("reward rules are brand configuration: a rule may target a region but holds no region's data")
@rules_blp.response(200, AdminRewardRuleReadSchema)
def get_rule(rule_id):
    """A reward rule"""
    return reward_rules.get_reward_rule(rule_id)


@rules_blp.route("/<int:rule_id>", methods=["PATCH"])
@roles(*WRITERS)
@national_only("brand-wide configuration is written by users who see the whole country")
@rules_blp.arguments(AdminRewardRuleUpdateSchema)
@rules_blp.response(200, AdminRewardRuleReadSchema)
def update_rule(body, rule_id):
    """Change a reward rule (status inactive retires it; scans already rewarded keep their reward)"""
    with transaction():
        return reward_rules.update_reward_rule(actor=current_actor(), rule_id=rule_id, changes=body)


# --- courses ------------------------------------------------------------------------------------

@courses_blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("training content is the brand's")
@courses_blp.arguments(AdminCourseQuerySchema, location="query")
@courses_blp.response(200, AdminCourseBriefSchema(many=True))
@courses_blp.paginate(SelectPage)
def list_courses(query):
    """Training courses, newest first"""
    return training.list_courses(**query)


@courses_blp.route("", methods=["POST"])
@roles(*WRITERS)
@national_only("brand-wide configuration is written by users who see the whole country")
@courses_blp.arguments(AdminCourseCreateSchema)
@courses_blp.response(201, AdminCourseReadSchema)
def create_course(body):
    """Create a course with its quiz (draft unless status says otherwise)"""
    with transaction():
        return training.create_course(actor=current_actor(), data=body)


@courses_blp.route("/<int:course_id>", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("training content is the brand's")
@courses_blp.response(200, AdminCourseReadSchema)
def get_course(course_id):
    """A course with its quiz and answers"""
    return training.get_course(course_id)


@courses_blp.route("/<int:course_id>", methods=["PATCH"])
@roles(*WRITERS)
@national_only("brand-wide configuration is written by users who see the whole country")
@courses_blp.arguments(AdminCourseUpdateSchema)
@courses_blp.response(200, AdminCourseReadSchema)
def update_course(body, course_id):
    """Change a course (questions, when given, replace the quiz); publish or archive it by status"""
    with transaction():
        return training.update_course(actor=current_actor(), course_id=course_id, changes=body)


# --- sale scans, ledgers, withdrawals ------------------------------------------------------------

@retail_blp.route("/sale-scans", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@retail_blp.arguments(AdminSaleScanQuerySchema, location="query")
@retail_blp.response(200, AdminSaleScanReadSchema(many=True))
@retail_blp.paginate(SelectPage)
def sale_scans(query):
    """Sale scans, newest first, by store, product, clerk, not-received flag and period"""
    return sales.list_sale_scans(store_id=query.get("store_id"), product_id=query.get("product_id"),
                                 app_user_id=query.get("app_user_id"), not_received=query.get("not_received"),
                                 since=query.get("from_"), until=query.get("to"),
                                 scope=current_scope())


@retail_blp.route("/clerks/<int:app_user_id>/ledger", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a clerk's money is not split by region yet")
@retail_blp.arguments(AdminLedgerQuerySchema, location="query")
@retail_blp.response(200, AdminLedgerEntrySchema(many=True))
@retail_blp.paginate(SelectPage)
def clerk_ledger(query, app_user_id):
    """A clerk's ledger, newest first"""
    return ledger.list_ledger(app_user_id=app_user_id, **query)


@retail_blp.route("/clerks/<int:app_user_id>/balance", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a clerk's money is not split by region yet")
@retail_blp.response(200, AdminBalanceSchema)
def clerk_balance(app_user_id):
    """A clerk's points and cash (fen) balances"""
    return ledger.balances(app_user_id=app_user_id)


@retail_blp.route("/withdrawals", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a clerk's money is not split by region yet")
@retail_blp.arguments(AdminWithdrawalQuerySchema, location="query")
@retail_blp.response(200, AdminWithdrawalReadSchema(many=True))
@retail_blp.paginate(SelectPage)
def withdrawals(query):
    """Clerks' withdrawals, newest first"""
    return withdrawals_service.list_withdrawals(**query)


# --- points to cash ------------------------------------------------------------------------------

@retail_blp.route("/points-cash-rate", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("the rate is brand configuration")
@retail_blp.response(200, AdminPointsCashRateSchema)
def points_cash_rate():
    """The rate in force for clerks turning points into cash (404 points_cash_rate_not_set before any)"""
    return conversions.get_rate()


@retail_blp.route("/points-cash-rate", methods=["PUT"])
@roles(*RATE_WRITERS)
@national_only("brand-wide configuration is written by users who see the whole country")
@retail_blp.arguments(AdminPointsCashRateSchema)
@retail_blp.response(200, AdminPointsCashRateSchema)
def set_points_cash_rate(body):
    """Set the rate (fen for every so many points, a minimum; enabled false closes conversion)"""
    with transaction():
        return conversions.set_rate(actor=current_actor(), **body)


@retail_blp.route("/points-cash-rates", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("the rate is brand configuration")
@retail_blp.response(200, AdminPointsCashRateSchema(many=True))
@retail_blp.paginate(SelectPage)
def points_cash_rates():
    """Every rate set, newest (the one in force) first"""
    return conversions.list_rates()


@retail_blp.route("/points-conversions", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a clerk's money is not split by region yet")
@retail_blp.arguments(AdminConversionQuerySchema, location="query")
@retail_blp.response(200, AdminConversionReadSchema(many=True))
@retail_blp.paginate(SelectPage)
def points_conversions(query):
    """Clerks' points turned into cash, newest first"""
    return conversions.list_conversions(app_user_id=query.get("app_user_id"), since=query.get("from_"),
                                        until=query.get("to"))
