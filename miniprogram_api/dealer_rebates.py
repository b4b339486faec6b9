"""The dealer mini-program: my dealer's approved rebate statements (owner only)."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.accounts import profiles
from app.accounts.errors import NotBound, OwnerOnly
from app.accounts.models import AppName, MemberRole
from app.http import SelectPage
from app.rebates import service
from app.rebates.models import RebateBasis, StatementStatus
from app.schemas import Int
from miniprogram_api.schemas import ProductNamedSchema
from miniprogram_api.security import audience, authenticate, current_app_user

DEALER = AppName.DEALER

blp = Blueprint("mp_dealer_rebates", __name__, url_prefix="/api/dealer",
                description="The dealer mini-program: my dealer's rebate statements, once finance approved them.")
blp.before_request(authenticate(DEALER))


class DealerStatementLineSchema(ProductNamedSchema):
    product_id = Int()
    basis = ma.fields.Enum(RebateBasis, by_value=True)
    quantity = Int(metadata={"description": "Cases received by stores, or units sold"})
    amount_fen = Int()


class DealerStatementBriefSchema(ma.Schema):
    id = Int()
    period_start = ma.fields.Date()
    period_end = ma.fields.Date(metadata={"description": "Inclusive"})
    total_fen = Int()
    approved_at = ma.fields.DateTime()


class DealerStatementSchema(DealerStatementBriefSchema):
    lines = ma.fields.List(ma.fields.Nested(DealerStatementLineSchema))


def _dealer_id() -> int:
    """My dealer; rebates are money, so only its owner sees them."""
    membership = profiles.dealer_membership(current_app_user())
    if membership is None:
        raise NotBound()
    if membership.role is not MemberRole.OWNER:
        raise OwnerOnly()
    return membership.dealer_id


@blp.route("/rebate-statements", methods=["GET"])
@audience(DEALER)
@blp.response(200, DealerStatementBriefSchema(many=True))
@blp.paginate(SelectPage)
def list_statements():
    """My dealer's approved rebate statements (latest period first; drafts may still change, so are not shown)"""
    return service.list_statements(dealer_id=_dealer_id(), status=StatementStatus.APPROVED)


@blp.route("/rebate-statements/<int:statement_id>", methods=["GET"])
@audience(DEALER)
@blp.response(200, DealerStatementSchema)
def get_statement(statement_id):
    """One of my dealer's approved rebate statements, with its lines"""
    return service.get_statement(statement_id, dealer_id=_dealer_id(), status=StatementStatus.APPROVED)
