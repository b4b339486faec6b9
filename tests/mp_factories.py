"""Mini-program actions for tests: sign in through the sandbox, invitations, bound dealer and store users."""
from __future__ import annotations

import uuid

import pytest

from app.accounts import invitations
from app.db import transaction
from app.identity.service import Actor
from app.wechat import runtime
from app.wechat.sandbox.miniprogram import openid_for

ACTOR = Actor.system("tests")


def make_invitation(**data):
    with transaction():
        return invitations.create_invitation(created_by=ACTOR, **data)


class MiniProgramActions:
    """Sign in to a mini-program as a WeChat user (through the sandbox, over real HTTP)."""

    def __init__(self, client):
        self.client = client

    @staticmethod
    def new_name() -> str:
        return f"u{uuid.uuid4().hex[:12]}"

    @staticmethod
    def code(name: str) -> str:
        """A fresh wx.login code of test user <name> (the sandbox takes each code once)."""
        return f"sandbox:{name}:{uuid.uuid4().hex[:8]}"

    @staticmethod
    def openid(app: str, name: str) -> str:
        return openid_for(runtime().app_credentials(app)[0], name)

    def login(self, app: str, name: str | None = None, **kwargs):
        return self.client.post(f"/api/{app}/auth/login", json={"code": self.code(name or self.new_name())},
                                **kwargs)

    def sign_in(self, app: str, name: str | None = None) -> tuple[dict, dict]:
        """(headers, login body) of a fresh or named user of the mini-program."""
        response = self.login(app, name)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        return {"Authorization": f"Bearer {body['token']}"}, body

    def bound(self, app: str, invitation_code: str) -> dict:
        """Headers of a new user of the dealer or clerk mini-program bound with the invitation."""
        headers, _ = self.sign_in(app)
        response = self.client.post(f"/api/{app}/bind", json={"invitation_code": invitation_code},
                                    headers=headers)
        assert response.status_code == 200, response.get_json()
        return headers


@pytest.fixture
def mp(client):
    return MiniProgramActions(client)
