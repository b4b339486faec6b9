"""Factories and actions that let tests read like the product."""
from __future__ import annotations

import itertools

from app.db import transaction
from app.identity import service as identity
from app.identity.models import Role

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def make_user(role: Role | str = Role.ADMIN, *, username: str | None = None, password: str = PASSWORD):
    with transaction():
        return identity.create_user(actor=identity.Actor.system("tests"),
                                    username=username or f"{Role(role).value}{next(_counter)}",
                                    password=password, role=role)


def make_api_key(*scopes: str, name: str = "line-1") -> str:
    with transaction():
        raw, _ = identity.create_api_key(actor=identity.Actor.system("tests"), name=name,
                                         scopes=list(scopes))
    return raw


class AuthActions:
    """Log in as a role and get the headers to call the back office with."""

    def __init__(self, client):
        self.client = client

    def login(self, username: str, password: str = PASSWORD):
        return self.client.post("/api/admin/auth/login", json={"username": username, "password": password})

    def headers_for(self, role: Role | str = Role.ADMIN) -> dict:
        user = make_user(role)
        response = self.login(user.username)
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['token']}"}

    def as_admin(self):
        return self.headers_for(Role.ADMIN)

    def key_headers(self, *scopes: str) -> dict:
        return {"X-Api-Key": make_api_key(*scopes)}


def ok(response, status: int = 200):
    """The JSON of a response that has the status expected (the body shown when it has not)."""
    assert response.status_code == status, response.get_json()
    return response.get_json()
