"""Optional filters of list queries, declared once per list instead of an ``if`` per parameter."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

Condition = Callable[[Any], sa.ColumnElement[bool]]


def given(value) -> bool:
    """A filter's value counts when it was sent: None and the empty string mean "any"."""
    return value is not None and value != ""


class Filters:
    """Named conditions of a list; each narrows the select only when its value is given.

    ``Filters(status=lambda value: Order.status == Status(value))`` declares the list's filters;
    ``apply(query, status=status)`` adds the condition of each one given.
    """

    def __init__(self, **conditions: Condition) -> None:
        self.conditions = conditions

    def apply(self, query: sa.Select, **values) -> sa.Select:
        """``query`` narrowed by the condition of every value given."""
        for name, value in values.items():
            if given(value):
                query = query.where(self.conditions[name](value))
        return query
