"""The clerk mini-program at work: receiving goods, scanning sales, rewards, points to cash and withdrawals,
rankings, training.

The store is the signed-in user's approved store membership (403 ``no_store`` otherwise); rewards
and withdrawals belong to the user, so a clerk who left a store still sees and withdraws them.
"""
from __future__ import annotations

from datetime import timezone

import marshmallow as ma
from flask_smorest import Blueprint

from app.accounts.models import AppName
from app.channel.models import PartyKind
from app.db import transaction
from app.http import SelectPage
from app.retail import conversions, rankings, stores, training, withdrawals
from app.retail import ledger as ledger_service
from app.retail import sales as sales_service
from app.retail.models import RewardKind, WithdrawalStatus
from app.schemas import ClientId, Int, UtcTime
from miniprogram_api.schemas import NamedRefsSchema, ProductNamedSchema, party_field
from miniprogram_api.security import audience, authenticate, current_app_user

CLERK = AppName.CLERK

blp = Blueprint("mp_clerk_retail", __name__, url_prefix="/api/clerk",
                description="The clerk mini-program: store receipts, sale scans, rewards, rankings, training.")
blp.before_request(authenticate(CLERK))

CODE = ma.validate.Length(min=1, max=64)
MAX_RECEIPT_CODES = 10_000


def _store_id() -> int:
    return stores.current_store(user=current_app_user()).store_id


# --- schemas ------------------------------------------------------------------------------------

class ClerkShipmentReadSchema(NamedRefsSchema):
    parties = {"shipper": lambda s: (s.shipper_kind, s.shipper_id)}

    id = Int()
    order_id = Int(allow_none=True)
    shipper_kind = ma.fields.Function(lambda s: s.shipper_kind.value)
    shipper_id = Int()
    shipper = party_field(metadata={"description": "{kind, id, name} of shipper_kind and shipper_id"})
    status = ma.fields.Function(lambda s: s.status.value)
    items = Int()
    shipped_at = ma.fields.DateTime(allow_none=True)
    received_at = ma.fields.DateTime(allow_none=True)


class ClerkContentLineSchema(ma.Schema):
    product_id = Int()
    sku = ma.fields.String()
    product_name = ma.fields.String()
    lot_id = Int(allow_none=True)
    items = Int()


class ClerkShippedCodeSchema(ma.Schema):
    code = ma.fields.String()
    level = ma.fields.Function(lambda s: s.level.value)
    items = Int()


class ClerkShipmentContentsSchema(ma.Schema):
    shipment = ma.fields.Nested(ClerkShipmentReadSchema)
    lines = ma.fields.List(ma.fields.Nested(ClerkContentLineSchema),
                           metadata={"description": "Items expected, per product and lot"})
    scans = ma.fields.List(ma.fields.Nested(ClerkShippedCodeSchema),
                           metadata={"description": "The codes the shipper scanned (items, cases, pallets)"})


class ClerkReceiptCreateSchema(ma.Schema):
    codes = ma.fields.List(ma.fields.String(validate=CODE), validate=ma.validate.Length(min=1, max=MAX_RECEIPT_CODES),
                           load_default=None, metadata={
                               "description": "Codes scanned in (items, cases, pallets); omit to confirm the whole shipment"})
    damaged = ma.fields.List(ma.fields.String(validate=CODE), validate=ma.validate.Length(max=MAX_RECEIPT_CODES),
                             load_default=list)
    note = ma.fields.String(validate=ma.validate.Length(max=500), load_default="")


class ClerkDiscrepancySchema(ma.Schema):
    kind = ma.fields.Function(lambda d: d.kind.value)
    code = ma.fields.String(allow_none=True)
    note = ma.fields.String()


class ClerkReceiptReadSchema(ma.Schema):
    id = Int()
    shipment_id = Int()
    mode = ma.fields.Function(lambda r: r.mode.value)
    expected = Int()
    received = Int()
    missing = Int()
    extra = Int()
    damaged = Int()
    confirmed_at = ma.fields.DateTime()


class ClerkReceiptResultSchema(ma.Schema):
    receipt = ma.fields.Nested(ClerkReceiptReadSchema)
    discrepancies = ma.fields.List(ma.fields.Nested(ClerkDiscrepancySchema))


class ClerkSaleCreateSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=CODE)
    scanned_at = UtcTime(metadata={
        "description": "When it was scanned (an offline phone uploads later); default now; at most 3 days ago"})


class ClerkRewardSchema(ma.Schema):
    rule_id = Int()
    kind = ma.fields.String()
    amount = Int(metadata={"description": "Points, or fen"})
    withheld = ma.fields.Boolean(metadata={"description": "The rule withholds rewards for units never received"})


class ClerkSaleReadSchema(ProductNamedSchema):
    parties = {"store": lambda s: (PartyKind.STORE, s.store_id)}

    id = Int()
    code = ma.fields.String()
    store_id = Int()
    store = party_field()
    product_id = Int()
    lot_id = Int(allow_none=True)
    not_received = ma.fields.Boolean(metadata={"description": "This store never received the unit"})
    reward = ma.fields.Method("_reward", allow_none=True)
    scanned_at = ma.fields.DateTime()

    def _reward(self, sale):
        if sale.rule_id is None:
            return None
        return {"rule_id": sale.rule_id, "kind": sale.reward_kind.value, "amount": sale.reward_amount,
                "withheld": sale.withheld}


class ClerkProductBriefSchema(ma.Schema):
    id = Int()
    sku = ma.fields.String()
    name = ma.fields.String()


class ClerkSaleResultSchema(ma.Schema):
    verdict = ma.fields.Constant("sold")
    sale = ma.fields.Nested(ClerkSaleReadSchema)
    product = ma.fields.Nested(ClerkProductBriefSchema)
    credited = Int(metadata={"description": "What went to my ledger now (0: no rule, or withheld)"})


class ClerkPointsCashRateSchema(ma.Schema):
    points = Int(metadata={"description": "A conversion is a whole number of these points..."})
    cash_fen = Int(attribute="fen", metadata={"description": "...each paid this many fen"})
    min_points = Int(attribute="least_points", metadata={"description": "The smallest conversion (at least one step)"})


class ClerkBalanceSchema(ma.Schema):
    points = Int()
    cash = Int(metadata={"description": "Fen"})
    withdrawal_minimum = Int(metadata={"description": "Fen"})
    points_to_cash = ma.fields.Nested(ClerkPointsCashRateSchema, allow_none=True, metadata={
        "description": "The brand's rate for turning points into cash; null: closed"})


class ClerkLedgerEntrySchema(ma.Schema):
    id = Int()
    kind = ma.fields.Function(lambda e: e.kind.value)
    amount = Int(metadata={"description": "+ earned, - withdrawn; points or fen"})
    source = ma.fields.String()
    note = ma.fields.String()
    created_at = ma.fields.DateTime()


class ClerkLedgerQuerySchema(ma.Schema):
    kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in RewardKind]))


class ClerkWithdrawalCreateSchema(ma.Schema):
    amount = Int(required=True, validate=ma.validate.Range(min=1), metadata={"description": "Fen"})
    request_id = ClientId(required=True, metadata={
        "description": "Made once per intended withdrawal and reused on retries: the same id is the same withdrawal"})


class ClerkWithdrawalReadSchema(ma.Schema):
    id = Int()
    request_id = ma.fields.String()
    amount = Int()
    status = ma.fields.Function(lambda w: w.status.value)
    payout_id = Int(allow_none=True, metadata={
        "description": "Its payout: GET /api/clerk/payouts/<payout_id> gives what wx.requestMerchantTransfer needs"})
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class ClerkConversionCreateSchema(ma.Schema):
    points = Int(required=True, validate=ma.validate.Range(min=1))
    request_id = ClientId(required=True, metadata={
        "description": "Made once per intended conversion and reused on retries: the same id is the same conversion"})


class ClerkConversionReadSchema(ma.Schema):
    id = Int()
    request_id = ma.fields.String()
    points = Int(metadata={"description": "Taken from my points"})
    amount_fen = Int(metadata={"description": "Added to my cash, to withdraw"})
    created_at = ma.fields.DateTime()


class ClerkWithdrawalQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in WithdrawalStatus]))


class ClerkRankingQuerySchema(ma.Schema):
    from_ = ma.fields.AwareDateTime(data_key="from", default_timezone=timezone.utc)
    to = UtcTime()
    region_code = ma.fields.String(validate=ma.validate.Regexp(r"^\d{12}$"), metadata={
        "description": "A province, city or district adcode (12 digits)"})
    top = Int(load_default=10, validate=ma.validate.Range(min=1, max=rankings.RANKING_MAX))


class ClerkRankRowSchema(NamedRefsSchema):
    parties = {"store": lambda r: (PartyKind.STORE, r.store_id) if r.store_id is not None else None}

    rank = Int()
    id = Int(metadata={"description": "The store's, or the clerk's (app user) id"})
    name = ma.fields.String()
    store_id = Int(allow_none=True)
    store = party_field(allow_none=True)
    sales = Int()
    points = Int()
    cash = Int()


class ClerkRankingSchema(ma.Schema):
    top = ma.fields.List(ma.fields.Nested(ClerkRankRowSchema))
    me = ma.fields.Nested(ClerkRankRowSchema, allow_none=True)


class ClerkCourseBriefSchema(ma.Schema):
    id = Int()
    title = ma.fields.String()
    video_url = ma.fields.String(allow_none=True)
    points = Int()
    pass_score = Int()
    updated_at = ma.fields.DateTime()


class ClerkQuestionSchema(ma.Schema):
    question = ma.fields.String()
    options = ma.fields.List(ma.fields.String())


class ClerkCourseReadSchema(ClerkCourseBriefSchema):
    body = ma.fields.String()
    images = ma.fields.List(ma.fields.String())
    questions = ma.fields.List(ma.fields.Nested(ClerkQuestionSchema), metadata={"description": "Without the answers"})


class ClerkAttemptCreateSchema(ma.Schema):
    answers = ma.fields.List(Int(validate=ma.validate.Range(min=0, max=100)), required=True,
                             validate=ma.validate.Length(max=training.MAX_QUESTIONS),
                             metadata={"description": "The chosen option's index, one per question in order"})


class ClerkAttemptResultSchema(ma.Schema):
    id = Int(attribute="attempt.id")
    score = Int(attribute="attempt.score", metadata={"description": "Percent of questions right"})
    passed = ma.fields.Boolean(attribute="attempt.passed")
    questions = Int()
    correct = Int()
    points_credited = Int(metadata={"description": "The course's points on the first pass; 0 after"})


# --- receipts -----------------------------------------------------------------------------------

@blp.route("/receipts/pending", methods=["GET"])
@audience(CLERK)
@blp.response(200, ClerkShipmentReadSchema(many=True))
@blp.paginate(SelectPage)
def pending_receipts():
    """Shipments on their way to my store"""
    return stores.pending_receipts(store_id=_store_id())


@blp.route("/receipts/<int:shipment_id>", methods=["GET"])
@audience(CLERK)
@blp.response(200, ClerkShipmentContentsSchema)
def receivable(shipment_id):
    """A shipment to my store and what it should hold"""
    return stores.receivable(store_id=_store_id(), shipment_id=shipment_id)


@blp.route("/receipts/<int:shipment_id>", methods=["POST"])
@audience(CLERK)
@blp.arguments(ClerkReceiptCreateSchema)
@blp.response(201, ClerkReceiptResultSchema)
def confirm_receipt(body, shipment_id):
    """Confirm a shipment to my store: the whole of it, or the codes scanned in (discrepancies recorded)"""
    with transaction():
        receipt, found = stores.confirm_store_receipt(user=current_app_user(), store_id=_store_id(),
                                                      shipment_id=shipment_id, **body)
        return {"receipt": receipt, "discrepancies": found}


# --- sales --------------------------------------------------------------------------------------

@blp.route("/sales", methods=["POST"])
@audience(CLERK)
@blp.arguments(ClerkSaleCreateSchema)
@blp.response(201, ClerkSaleResultSchema)
def sale_scan(body):
    """Scan a unit sold in my store: it is sold here, and I earn what the reward rules say"""
    with transaction():
        result = sales_service.sale_scan(user=current_app_user(), store_id=_store_id(), **body)
        return {"sale": result.sale, "product": result.product,
                "credited": result.credited.amount if result.credited else 0}


@blp.route("/sales", methods=["GET"])
@audience(CLERK)
@blp.response(200, ClerkSaleReadSchema(many=True))
@blp.paginate(SelectPage)
def my_sales():
    """My sale scans, newest first"""
    return sales_service.list_my_sales(user=current_app_user())


# --- rewards and withdrawals ---------------------------------------------------------------------

@blp.route("/rewards/balance", methods=["GET"])
@audience(CLERK)
@blp.response(200, ClerkBalanceSchema)
def balance():
    """My points and cash (fen) balances"""
    return {**ledger_service.balances(app_user_id=current_app_user().id),
            "withdrawal_minimum": withdrawals.withdrawal_minimum(), "points_to_cash": conversions.open_rate()}


@blp.route("/rewards/conversions", methods=["POST"])
@audience(CLERK)
@blp.arguments(ClerkConversionCreateSchema)
@blp.response(201, ClerkConversionReadSchema)
def convert_points(body):
    """Turn points into cash (fen) at the brand's rate; withdraw the cash as any other"""
    with transaction():
        return conversions.convert(user=current_app_user(), **body)


@blp.route("/rewards/conversions", methods=["GET"])
@audience(CLERK)
@blp.response(200, ClerkConversionReadSchema(many=True))
@blp.paginate(SelectPage)
def my_conversions():
    """My points turned into cash, newest first"""
    return conversions.list_conversions(app_user_id=current_app_user().id)


@blp.route("/rewards/ledger", methods=["GET"])
@audience(CLERK)
@blp.arguments(ClerkLedgerQuerySchema, location="query")
@blp.response(200, ClerkLedgerEntrySchema(many=True))
@blp.paginate(SelectPage)
def ledger(query):
    """My ledger: what I earned and withdrew, newest first"""
    return ledger_service.list_ledger(app_user_id=current_app_user().id, **query)


@blp.route("/withdrawals", methods=["POST"])
@audience(CLERK)
@blp.arguments(ClerkWithdrawalCreateSchema)
@blp.response(201, ClerkWithdrawalReadSchema)
def request_withdrawal(body):
    """Withdraw accrued cash (fen); it waits for the payout queue"""
    with transaction():
        return withdrawals.request_withdrawal(user=current_app_user(), **body)


@blp.route("/withdrawals", methods=["GET"])
@audience(CLERK)
@blp.arguments(ClerkWithdrawalQuerySchema, location="query")
@blp.response(200, ClerkWithdrawalReadSchema(many=True))
@blp.paginate(SelectPage)
def my_withdrawals(query):
    """My withdrawals, newest first"""
    return withdrawals.list_withdrawals(app_user_id=current_app_user().id, **query)


@blp.route("/withdrawals/<int:withdrawal_id>/cancel", methods=["POST"])
@audience(CLERK)
@blp.response(200, ClerkWithdrawalReadSchema)
def cancel_withdrawal(withdrawal_id):
    """Cancel a withdrawal not yet paid: the cash returns to my balance"""
    with transaction():  # it races the payout worker for the same rows: app.http.retry_writes runs it again
        return withdrawals.cancel_withdrawal(user=current_app_user(), withdrawal_id=withdrawal_id)


# --- rankings -----------------------------------------------------------------------------------

@blp.route("/rankings/stores", methods=["GET"])
@audience(CLERK)
@blp.arguments(ClerkRankingQuerySchema, location="query")
@blp.response(200, ClerkRankingSchema)
def store_ranking(query):
    """Stores by sale scans in a period and region, and my store's rank"""
    return rankings.store_ranking(since=query.get("from_"), until=query.get("to"),
                                  region_code=query.get("region_code"), top=query["top"], my_store_id=_store_id())


@blp.route("/rankings/clerks", methods=["GET"])
@audience(CLERK)
@blp.arguments(ClerkRankingQuerySchema, location="query")
@blp.response(200, ClerkRankingSchema)
def clerk_ranking(query):
    """Clerks by sale scans in a period and region, and my rank"""
    _store_id()
    return rankings.clerk_ranking(since=query.get("from_"), until=query.get("to"),
                                  region_code=query.get("region_code"), top=query["top"],
                                  my_user_id=current_app_user().id)


# --- training -----------------------------------------------------------------------------------

@blp.route("/courses", methods=["GET"])
@audience(CLERK)
@blp.response(200, ClerkCourseBriefSchema(many=True))
@blp.paginate(SelectPage)
def courses():
    """Published training courses, newest first"""
    _store_id()
    return training.list_published()


@blp.route("/courses/<int:course_id>", methods=["GET"])
@audience(CLERK)
@blp.response(200, ClerkCourseReadSchema)
def course(course_id):
    """A published course with its quiz (no answers)"""
    _store_id()
    return training.get_published(course_id)


@blp.route("/courses/<int:course_id>/attempts", methods=["POST"])
@audience(CLERK)
@blp.arguments(ClerkAttemptCreateSchema)
@blp.response(201, ClerkAttemptResultSchema)
def attempt(body, course_id):
    """Answer a course's quiz: my score, and the course's points on my first pass"""
    with transaction():
        _store_id()
        return training.submit_attempt(user=current_app_user(), course_id=course_id, answers=body["answers"])
