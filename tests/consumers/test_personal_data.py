"""Personal data by need: openids and phone numbers in full only for the roles whose job needs them.

Every back-office response that carries one is read by every role that may read it: auditors and
finance get masked values; admins and marketers the openid, admins, marketers and operations the phone.
"""
from __future__ import annotations

import pytest

from app.campaigns import redemptions
from app.campaigns.models import Campaign, PrizeKind
from app.consumers import blacklist
from app.db import transaction
from app.extensions import db
from app.identity.models import Role
from app.identity.personal_data import FULL_VIEW, OPENID, PHONE, mask_openid, mask_phone, shown
from app.identity.service import Actor
from app.masterdata import dealers as masterdata_dealers
from tests.campaign_factories import ADDRESS
from tests.masterdata_factories import make_dealer
from tests.points_factories import earn, make_item, redeem

OPENID_VALUE = "o6_bWnK2hJx9LmQpXk2"
PHONE_VALUE = ADDRESS["phone"]  # 13800138000
CONTACT_PHONE = "13900001111"  # the dealer's contact, after a change from PHONE_VALUE
EVERY_ROLE = tuple(Role)


def test_masks_keep_the_ends_only():
    assert mask_openid(OPENID_VALUE) == "o6_b***Xk2"
    assert mask_phone("13812345678") == "138****5678"
    assert (mask_openid("short"), mask_phone("12345"), shown(PHONE, "", None)) == ("s***", "****", "")
    assert shown(OPENID, {"old": [OPENID_VALUE], "new": None}, Role.FINANCE) == {"old": ["o6_b***Xk2"], "new": None}
    assert shown(PHONE, PHONE_VALUE, None) == "138****8000"  # no back-office role: masked


@pytest.fixture
def consumer(claims):
    """A consumer with a cash prize paid out, a gift awaiting shipment, a mall order, on the blacklist,
    on a campaign's blacklist; and a dealer with a contact."""
    user = claims.consumer("Lin", openid=OPENID_VALUE)
    campaign = claims.campaign()
    _, payout = claims.won(user, campaign, PrizeKind.CASH, 88)
    _, gift = claims.won(user, campaign, PrizeKind.GIFT)
    earn(user.id, 1_000, "seed")
    order = redeem(user.id, make_item().id)
    with transaction():
        redemptions.set_address(app_user=user, redemption_id=gift.id, address=ADDRESS)
        entry = blacklist.block(actor=Actor.system("tests"), openid=OPENID_VALUE, reason="many cities")
        db.session.get(Campaign, campaign.id).blacklist = [OPENID_VALUE]
    dealer = make_dealer(contacts=[{"name": "王经理", "phone": PHONE_VALUE}])
    with transaction():
        masterdata_dealers.update_dealer(actor=Actor.system("tests"), dealer_id=dealer.id,
                                         changes={"contacts": [{"name": "李经理", "phone": CONTACT_PHONE}]})
    return {"user": user.id, "campaign": campaign.id, "payout": payout.id, "gift": gift.id, "entry": entry.id,
            "order": order.id, "dealer": dealer.id}


# (path, what to read in the answer, its full value, which kind of value it is, who may read the endpoint)
ENDPOINTS = [
    ("/api/admin/payouts", lambda b: b[0]["openid"], OPENID_VALUE, OPENID, EVERY_ROLE),
    ("/api/admin/payouts/{payout}", lambda b: b["openid"], OPENID_VALUE, OPENID, EVERY_ROLE),
    ("/api/admin/consumer-profiles", lambda b: b[0]["openid"], OPENID_VALUE, OPENID, EVERY_ROLE),
    ("/api/admin/consumer-profiles/{user}", lambda b: b["openid"], OPENID_VALUE, OPENID, EVERY_ROLE),
    ("/api/admin/consumer-profiles/blacklist", lambda b: b[0]["openid"], OPENID_VALUE, OPENID, EVERY_ROLE),
    ("/api/admin/campaigns", lambda b: b[0]["blacklist"][0], OPENID_VALUE, OPENID, EVERY_ROLE),
    ("/api/admin/campaigns/{campaign}", lambda b: b["blacklist"][0], OPENID_VALUE, OPENID, EVERY_ROLE),
    ("/api/admin/audit?action=consumer_blacklist.add", lambda b: b[0]["changes"]["openid"][1], OPENID_VALUE,
     OPENID, (Role.ADMIN, Role.AUDITOR)),
    ("/api/admin/draws/redemptions", lambda b: b[0]["address"]["phone"], PHONE_VALUE, PHONE, EVERY_ROLE),
    ("/api/admin/draws/redemptions/{gift}", lambda b: b["address"]["phone"], PHONE_VALUE, PHONE, EVERY_ROLE),
    ("/api/admin/points/mall/orders", lambda b: b[0]["address"]["phone"], PHONE_VALUE, PHONE, EVERY_ROLE),
    ("/api/admin/points/mall/orders/{order}", lambda b: b["address"]["phone"], PHONE_VALUE, PHONE, EVERY_ROLE),
    ("/api/admin/dealers", lambda b: b[0]["contacts"][0]["phone"], CONTACT_PHONE, PHONE, EVERY_ROLE),
    ("/api/admin/dealers/{dealer}", lambda b: b["contacts"][0]["phone"], CONTACT_PHONE, PHONE, EVERY_ROLE),
    ("/api/admin/audit?action=dealer.update", lambda b: b[0]["changes"]["contacts"][0][0]["phone"], PHONE_VALUE,
     PHONE, (Role.ADMIN, Role.AUDITOR)),
]


def test_each_role_sees_personal_data_as_its_job_needs(client, auth, consumer):
    headers = {role: auth.headers_for(role) for role in Role}
    for path, read, full, kind, readers in ENDPOINTS:
        masked = mask_openid(full) if kind == OPENID else mask_phone(full)
        for role in readers:
            response = client.get(path.format(**consumer), headers=headers[role])
            assert response.status_code == 200, (path, role, response.get_json())
            assert read(response.get_json()) == (full if role in FULL_VIEW[kind] else masked), (path, role)
            if role in (Role.AUDITOR, Role.FINANCE):  # nowhere in the answer either
                text = response.get_data(as_text=True)
                assert not any(value in text for value in (OPENID_VALUE, PHONE_VALUE, CONTACT_PHONE)), (path, role)
