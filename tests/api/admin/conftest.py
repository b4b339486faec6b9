"""Fixtures shared by the back-office API tests."""
from __future__ import annotations

import pytest

from tests.payout_factories import make_user, prize


@pytest.fixture
def payouts():
    """Three prize payouts of one consumer: 12.34, 0.05 and 1000.00 yuan."""
    user = make_user()
    return [prize(user, amount=amount) for amount in (1234, 5, 100000)]


@pytest.fixture
def small_inline_limit(app, monkeypatch):
    """Exports of more than 2 rows run as jobs."""
    monkeypatch.setitem(app.config, "EXPORT_INLINE_MAX_ROWS", 2)
