"""Optional filters of list queries, declared once per list instead of an ``if`` per parameter."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

Condition = Callable[[Any], "sa.ColumnElement[bool] | None"]


class Filters:
    """Named conditions of a list; each narrows the select only when its value is given.

    ``Filters(status=lambda value: Order.status == Status(value))`` declares the list's filters;
    ``apply(query, status=status)`` adds the condition of each value given: not None nor "" (so a False
    or a 0 filters), or, with ``falsy_is_any``, not falsy (lists that have always read 0 as "any").
    A condition that answers None narrows nothing (a search text of blanks).
    """

    def __init__(self, *, falsy_is_any: bool = False, **conditions: Condition) -> None:
        self.falsy_is_any = falsy_is_any
        self.conditions = conditions

    def given(self, value) -> bool:
        """Whether a value narrows the list (see the class)."""
        return bool(value) if self.falsy_is_any else value is not None and value != ""

    def apply(self, query: sa.Select, **values) -> sa.Select:
        """``query`` narrowed by the condition of every value given."""
        for name, value in values.items():
            condition = self.conditions[name](value) if self.given(value) else None
            if condition is not None:
                query = query.where(condition)
        return query


def containing(text: str, *columns) -> sa.ColumnElement[bool] | None:
    """Rows with the search text (without its outer blanks) in one of the columns; None for a text of blanks."""
    text = text.strip()
    return sa.or_(*(column.contains(text, autoescape=True) for column in columns)) if text else None
