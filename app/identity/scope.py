"""Data scope: the regions whose rows a back-office user may see (a regional manager's provinces).

A user's scope is the list of region codes an admin gave them (``admin_user_regions``; set through
``PATCH /api/admin/users/<id>`` ``regions``); an empty list is the whole country. A region is a
12-digit adcode of any level, and it covers every region inside it by prefix: a province its first
2 digits, a city its first 4, a district its first 6 (``440000000000`` covers ``440305000000``).

How to apply it (reports, lists, details, writes):

- In a view, the caller's scope is ``app.http.current_scope()``; pass it to the service as the
  keyword ``scope=`` (services stay free of HTTP). A write's service takes it from its actor:
  ``scope_of(actor)``.
- A list: ``query.where(scope.filter(Model.region_code))`` — true for national users; for a
  regional user only rows whose region lies inside the scope (a NULL region never matches).
  Rows placed through another row (a sale scan's store, stock's warehouse, a statement's
  dealer) filter on that row: ``StockPosition.holder_id.in_(masterdata.warehouse_ids_in(scope))``.
  A rollup table keyed by region_code takes ``scope.filter(Rollup.region_code)`` the same way.
- A region column that may hold a region larger than the scope (a dealer's territory, a whole
  province for a user of one city) uses ``scope.overlaps(column)``: inside the scope, or one of
  the scope regions' ancestors.
- A detail: answer 404 (the service's own not-found error) when ``not scope.allows(code)``, so a
  row outside the scope does not reveal that it exists.
- A write: ``scope.require(code, ...)`` raises 403 ``outside_data_scope`` unless every code given
  lies inside the scope (the row's current region and its new one).
- Each back-office view declares how it meets the scope (``app.http.regional``, ``not_regional``,
  ``national_only``); a view that declares nothing refuses regional users (fail closed), and
  tests/identity/test_data_scope.py lists every regional view with the rows it must hide.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.errors import Forbidden
from app.masterdata.rules import region_ancestors, region_prefix


class OutsideDataScope(Forbidden):
    code = "outside_data_scope"
    message = "This record lies outside the regions you may work in."


class NationalScopeRequired(Forbidden):
    code = "national_scope_required"
    message = "Only a user whose data scope is the whole country may do this."


@dataclass(frozen=True)
class DataScope:
    """The regions a user may see; empty: the whole country."""

    regions: tuple[str, ...] = ()

    @property
    def national(self) -> bool:
        return not self.regions

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The adcode prefixes the scope covers: 2 digits a province, 4 a city, 6 a district."""
        return tuple(sorted({region_prefix(code) for code in self.regions}))

    def filter(self, column) -> sa.ColumnElement[bool]:
        """An SQL condition: the row's 12-digit region column lies inside the scope (always true when national)."""
        if self.national:
            return sa.true()
        return sa.or_(*(column.startswith(prefix) for prefix in self.prefixes))

    def overlaps(self, column) -> sa.ColumnElement[bool]:
        """An SQL condition: the column's region lies inside the scope or contains part of it."""
        if self.national:
            return sa.true()
        ancestors = sorted({code for region in self.regions for code in region_ancestors(region)})
        return sa.or_(self.filter(column), column.in_(ancestors))

    def allows(self, region_code: str | None) -> bool:
        """Whether a row in this region is inside the scope (a row without a region is only for national users)."""
        if self.national:
            return True
        return bool(region_code) and any(region_code.startswith(prefix) for prefix in self.prefixes)

    def require(self, *region_codes: str | None) -> None:
        """Refuse a write (403 outside_data_scope) unless every region given lies inside the scope."""
        if not all(self.allows(code) for code in region_codes):
            raise OutsideDataScope()

    def require_national(self) -> None:
        if not self.national:
            raise NationalScopeRequired()


NATIONAL = DataScope()


def scope_of(actor) -> DataScope:
    """The actor's data scope: a user's regions; API keys and the system see the whole country."""
    return DataScope(tuple(sorted(getattr(actor, "regions", ()) or ())))
