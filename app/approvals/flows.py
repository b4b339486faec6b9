"""The actions under dual control, each a use case that either runs or asks a second person.

Where the setting puts an action under dual control, the use case answers an ApprovalRequest instead
of running it; approving the request runs it (as the approver) through the executor registered here,
or, for a code pack, lets the requester download it once. Settings (config): DUAL_CONTROL_*.
"""
from __future__ import annotations

from flask import current_app

from app.approvals import service as approvals
from app.approvals.models import ApprovalRequest
from app.campaigns import service as campaigns
from app.campaigns.models import CampaignStatus
from app.codes import export_jobs
from app.errors import Conflict
from app.identity.models import Role
from app.identity.service import Actor
from app.points import ledger
from app.rebates import service as rebates
from app.rebates.models import StatementStatus

REBATE_STATEMENT = "rebate_statement.approve"
CAMPAIGN_ACTIVATION = "campaign.activate"
POINTS_ADJUSTMENT = "points.adjust"
CODE_PACK_DOWNLOAD = "code_pack.download"


def register_actions() -> None:
    """Tell the approvals mechanism what each kind may be approved by and what approving it runs.

    The approvers of each kind are the roles that may do the action alone where it is not under dual control.
    """
    approvals.register(approvals.Action(REBATE_STATEMENT, "rebate_statements",
                                        frozenset({Role.ADMIN, Role.FINANCE}), _approve_statement))
    approvals.register(approvals.Action(CAMPAIGN_ACTIVATION, "campaigns",
                                        frozenset({Role.ADMIN, Role.MARKETER}), _activate_campaign))
    approvals.register(approvals.Action(POINTS_ADJUSTMENT, "app_users",
                                        frozenset({Role.ADMIN, Role.MARKETER}), _adjust_points))
    approvals.register(approvals.Action(CODE_PACK_DOWNLOAD, "code_export_jobs",
                                        frozenset({Role.ADMIN, Role.OPS})))


def _above(amount: int, setting: str) -> bool:
    threshold = current_app.config[setting]
    return threshold is not None and amount > threshold


# --- rebate statements --------------------------------------------------------------------------

def _statement_figures(statement) -> dict:
    return {"total_fen": statement.total_fen,
            "computed_at": statement.computed_at.isoformat() if statement.computed_at else None}


def approve_statement(*, actor: Actor, statement_id: int):
    """Approve a draft statement, or ask a second person to (DUAL_CONTROL_REBATE_APPROVAL)."""
    if not current_app.config["DUAL_CONTROL_REBATE_APPROVAL"]:
        return rebates.approve_statement(actor=actor, statement_id=statement_id)
    statement = rebates.get_statement(statement_id)
    rebates.require_dealer_in_scope(actor, statement.dealer_id)
    if statement.status is StatementStatus.APPROVED:
        raise rebates.StatementApproved()
    return approvals.request(actor=actor, kind=REBATE_STATEMENT, target_id=statement.id,
                             params={"dealer_id": statement.dealer_id, **_statement_figures(statement)})


def _approve_statement(*, actor: Actor, request: ApprovalRequest):
    # A draft recomputed after the request holds other figures than the ones asked about.
    approvals.check_unchanged(request, _statement_figures(rebates.get_statement(request.target_id, lock=True)))
    return rebates.approve_statement(actor=actor, statement_id=request.target_id)


# --- campaigns ----------------------------------------------------------------------------------

def _budget(campaign) -> dict:
    return {"total_budget_fen": campaign.total_budget_fen, "daily_budget_fen": campaign.daily_budget_fen}


def activate_campaign(*, actor: Actor, campaign_id: int):
    """Activate a campaign, or ask a second person to when it pays cash from a budget above
    DUAL_CONTROL_CAMPAIGN_BUDGET_FEN."""
    campaign = campaigns.get_campaign(campaign_id)
    if not _needs_second_person(campaign):
        return campaigns.change_status(actor=actor, campaign_id=campaign_id, action="activate")
    campaigns.check_transition(campaign, "activate")  # nobody is asked to approve what cannot run
    return approvals.request(actor=actor, kind=CAMPAIGN_ACTIVATION, target_id=campaign.id, params=_budget(campaign))


class CampaignChangeNeedsApproval(Conflict):
    code = "campaign_change_needs_approval"
    message = ("A running campaign cannot be made to pay cash from a budget above DUAL_CONTROL_CAMPAIGN_BUDGET_FEN "
               "by one person: pause it, change it, and activate it again (a second person approves).")


def _needs_second_person(campaign) -> bool:
    return _above(campaign.total_budget_fen, "DUAL_CONTROL_CAMPAIGN_BUDGET_FEN") and campaigns.pays_cash(campaign)


def update_campaign(*, actor: Actor, campaign_id: int, changes: dict):
    """Change a campaign; a running one may not be raised past dual control by the person changing it
    (its budget raised, or cash prizes added, so that activating it would have needed a second person)."""
    before = campaigns.get_campaign(campaign_id)
    budget_before, cash_before = before.total_budget_fen, campaigns.pays_cash(before)
    campaign = campaigns.update_campaign(actor=actor, campaign_id=campaign_id, changes=changes)
    raised = campaign.total_budget_fen > budget_before or not cash_before
    if campaign.status is CampaignStatus.ACTIVE and raised and _needs_second_person(campaign):
        raise CampaignChangeNeedsApproval()
    return campaign


def _activate_campaign(*, actor: Actor, request: ApprovalRequest):
    approvals.check_unchanged(request, _budget(campaigns.get_campaign(request.target_id, lock=True)))
    return campaigns.change_status(actor=actor, campaign_id=request.target_id, action="activate")


# --- points -------------------------------------------------------------------------------------

def adjust_points(*, actor: Actor, app_user_id: int, points: int, reason: str, key: str):
    """Adjust a consumer's points, or ask a second person to when more than DUAL_CONTROL_POINTS_ADJUST
    points are given or taken. The key keeps its meaning: the same key is the same adjustment."""
    if not _above(abs(points), "DUAL_CONTROL_POINTS_ADJUST") or ledger.adjustment_made(key):
        return ledger.adjust(actor=actor, app_user_id=app_user_id, points=points, reason=reason, key=key)
    ledger.check_adjustment(app_user_id=app_user_id, points=points)
    return approvals.request(actor=actor, kind=POINTS_ADJUSTMENT, target_id=app_user_id, open_key=key,
                             params={"points": points, "reason": reason, "key": key})


def _adjust_points(*, actor: Actor, request: ApprovalRequest):
    return ledger.adjust(actor=actor, app_user_id=request.target_id, **request.params)


# --- code packs ---------------------------------------------------------------------------------

def download_code_pack(*, actor: Actor, job_id: int):
    """A code pack's file to download, or, for a pack of hidden codes (DUAL_CONTROL_CODE_PACK_HIDDEN),
    a request a second person approves: the approval lets the requester download it once, for
    APPROVAL_GRANT_MINUTES."""
    job = export_jobs.get_export(job_id)
    if not (current_app.config["DUAL_CONTROL_CODE_PACK_HIDDEN"] and export_jobs.holds_hidden_codes(job)):
        return export_jobs.download_export(actor=actor, job_id=job_id)
    if approvals.use_grant(actor=actor, kind=CODE_PACK_DOWNLOAD, target_id=job.id):
        return export_jobs.download_export(actor=actor, job_id=job_id)
    export_jobs.check_downloadable(job)
    return approvals.request(actor=actor, kind=CODE_PACK_DOWNLOAD, target_id=job.id,
                             params={"batch_id": job.batch_id, "sha256": job.sha256})
