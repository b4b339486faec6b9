"""Account services without HTTP: people linked by unionid, invitation uses under concurrency, tokens."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.accounts import invitations, logins
from app.accounts.errors import InvitationUsedUp, RefreshTokenReused
from app.accounts.models import AppName, AppUser, DealerMembership, Invitation, Person
from app.db import transaction
from app.extensions import db
from app.wechat.miniprogram import WxSession
from tests.concurrency import at_once, results_and_errors
from tests.masterdata_factories import make_dealer
from tests.mp_factories import make_invitation


class FakeWeChat:
    """Answers code_to_session from a table: code -> (openid, unionid)."""

    sessions: dict[str, tuple[str, str | None]] = {}

    def code_to_session(self, code):
        openid, unionid = self.sessions[code]
        return WxSession(openid=openid, session_key="c2Vzc2lvbi1rZXktMTIzNA==", unionid=unionid)


@pytest.fixture
def wechat(monkeypatch):
    fake = FakeWeChat()
    fake.sessions = {}
    monkeypatch.setattr(logins, "_wechat", lambda app: fake)
    return fake


def _login(app, code):
    with transaction():
        return logins.login(app=app, code=code, ip="127.0.0.1").user


def test_a_unionid_that_arrives_later_joins_the_person_of_the_other_apps(wechat):
    wechat.sessions = {"c1": ("o-consumer", "u-1"), "d1": ("o-dealer", None), "d2": ("o-dealer", "u-1")}
    consumer = _login("consumer", "c1")
    dealer = _login("dealer", "d1")
    assert dealer.person_id != consumer.person_id
    dealer = _login("dealer", "d2")  # the brand bound its mini-programs to one open-platform account
    assert dealer.person_id == consumer.person_id and dealer.unionid == "u-1"


def test_a_person_gets_the_unionid_when_no_one_else_has_it(wechat):
    wechat.sessions = {"a": ("o-1", None), "b": ("o-1", "u-2")}
    first = _login("clerk", "a")
    person_id = first.person_id
    again = _login("clerk", "b")
    assert again.person_id == person_id and db.session.get(Person, person_id).unionid == "u-2"


def test_tokens_are_stored_as_hashes_only(wechat):
    wechat.sessions = {"a": ("o-1", None)}
    with transaction():
        pair = logins.login(app="consumer", code="a", ip="127.0.0.1")
    stored = db.session.execute(sa.text("SELECT token_hash FROM app_access_tokens")).scalars().all()
    assert pair.token not in stored and logins._sha256(pair.token) in stored


def _users(n):
    with transaction():
        people = [Person() for _ in range(n)]
        users = [AppUser(app=AppName.DEALER, openid=f"o-{i}", person=p) for i, p in enumerate(people)]
        db.session.add_all(users)
    return [u.id for u in users]


def test_an_invitation_of_one_use_bound_by_two_users_at_once_binds_exactly_one(app, mariadb, monkeypatch):
    code = make_invitation(kind="dealer_member", dealer_id=make_dealer().id).code
    user_ids = _users(2)
    both_checked = threading.Barrier(2, timeout=10)
    check = invitations._usable_invitation

    def checked_then_wait(app_name, invitation_code):
        invitation = check(app_name, invitation_code)
        both_checked.wait()  # both saw an unused invitation before either takes it
        return invitation


    def bind(user_id):
        def call():
            invitations.bind_dealer(user=db.session.get(AppUser, user_id), code=code)
            return "bound"
        return call

    monkeypatch.setattr(invitations, "_usable_invitation", checked_then_wait)
    results, errors = results_and_errors(at_once(app, *map(bind, user_ids), each_in_transaction=True))
    assert [r for r in results if r] == ["bound"]
    assert [type(e) for e in errors if e] == [InvitationUsedUp]
    assert db.session.scalar(sa.select(Invitation.used_count).where(Invitation.code == code)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DealerMembership)) == 1


def test_two_refreshes_with_one_token_at_once_give_one_new_pair(app, mariadb, wechat):
    wechat.sessions = {"a": ("o-1", None)}
    with transaction():
        pair = logins.login(app="dealer", code="a", ip="127.0.0.1")

    def refresh():
        return logins.refresh(app="dealer", refresh_token=pair.refresh_token)

    results, errors = results_and_errors(at_once(app, refresh, refresh, each_in_transaction=True))
    assert len([r for r in results if r]) == 1
    assert [type(e) for e in errors if e] == [RefreshTokenReused]
