"""Production output: codes issued, items commissioned, packed, scrapped and recalled, by day, line,
factory, product and lot.

Line and factory are those of the production lot (production_lots.line_id / factory_id): the rollups
are summed by lot, and the lots, lines and factories are read by id from their small tables (never
the units). "Cases packed" are cases put on pallets: a pack is counted on the unit packed (its level
is the variant), so items packed are items put into cases, and a pallet, which nothing holds, is
never packed. Codes issued have a product (when their batch names one) and a day, nothing else.

Region scope: a production figure belongs to the region of its lot's factory, so a regional user sees
the output of the factories in their regions; codes issued, which no factory has, are not theirs.
"""
from __future__ import annotations

from collections.abc import Iterable

from app.masterdata.models import Factory, Product, ProductionLine
from app.production.models import ProductionLot
from app.reports import service
from app.reports.breakdown import Measure, Report, fold, names_of, parse_by, sort_key
from app.reports.service import Period

DIMENSIONS = ("day", "line", "factory", "product", "lot")
MEASURES = {
    "codes_issued": Measure("codes.issued", "amount", dimensions=frozenset({"day", "product"})),
    "items_commissioned": Measure("unit.commissioned", variants=("item",)),
    "items_packed": Measure("unit.packed", variants=("item",)),
    "cases_packed": Measure("unit.packed", variants=("case",)),
    "items_scrapped": Measure("unit.scrapped", variants=("item",)),
    "items_recalled": Measure("unit.recalled", variants=("item",)),
}
_COLUMNS = {"day": "day", "product": "product_id", "lot": "lot_id", "line": "lot_id", "factory": "lot_id"}


def production(*, period: Period, by: str | None, regions: Iterable[str] | None = None) -> Report:
    """Output over the period by one or two of day, line, factory, product, lot."""
    dims = parse_by(by, DIMENSIONS)
    regions = list(regions) if regions is not None else None
    columns = {"variant", *(_COLUMNS[d] for d in dims), *(("lot_id",) if regions is not None else ())}
    facts = {m.fact for m in MEASURES.values()}
    rows = service.sums(facts, period, by=sorted(columns))
    lots = names_of(ProductionLot, {r.lot_id for r in rows if "lot_id" in columns},
                    ProductionLot.lot_no, ProductionLot.product_id, ProductionLot.factory_id, ProductionLot.line_id)
    if regions is not None:
        rows = _in_factories_of(rows, lots, regions)

    def of_lot(attribute):
        return lambda row: (getattr(lots[row.lot_id], attribute) or 0) if row.lot_id in lots else None
    keys = {"day": lambda row: row.day, "product": lambda row: row.product_id, "lot": of_lot("id"),
            "line": of_lot("line_id"), "factory": of_lot("factory_id")}
    groups = fold(rows, by=dims, keys=keys, measures=MEASURES)
    ordered = sorted(groups.items(), key=lambda item: sort_key(item[0]))
    label = _Labels(dims, [group for group, _ in ordered], lots)
    return Report(as_of=service.as_of(), period=period, by=dims,
                  rows=[{**label(group), **values} for group, values in ordered])


def _in_factories_of(rows, lots, regions) -> list:
    """The rows of lots made in factories inside the regions (a row without a lot has no factory)."""
    factories = names_of(Factory, {lot.factory_id for lot in lots.values()}, Factory.region_code)
    inside = {id_ for id_, f in factories.items()
              if f.region_code and any(f.region_code.startswith(prefix) for prefix in regions if prefix)}
    return [row for row in rows if row.lot_id in lots and lots[row.lot_id].factory_id in inside]


class _Labels:
    """The dimension values of a group with the names a reader needs (a lot also gives its product,
    line and factory), the names read once for every group."""

    def __init__(self, dims, groups, lots):
        self.dims, self.lots = dims, lots
        wanted = [self._values(group) for group in groups]
        self.lines = names_of(ProductionLine, {v.get("line") for v in wanted}, ProductionLine.name,
                              ProductionLine.factory_id)
        self.factories = names_of(Factory, {v.get("factory") for v in wanted}
                                  | {line.factory_id for line in self.lines.values()}, Factory.name)
        self.products = names_of(Product, {v.get("product") for v in wanted}, Product.sku, Product.name)

    def _values(self, group) -> dict:
        values = dict(zip(self.dims, group))
        if "lot" in values:
            lot = self.lots[values["lot"]]
            values.setdefault("product", lot.product_id)
            values.setdefault("line", lot.line_id or 0)
            values.setdefault("factory", lot.factory_id)
        return values

    def __call__(self, group) -> dict:
        values = self._values(group)
        labels: dict = {}
        if "day" in values:
            labels["day"] = values["day"]
        if "lot" in values:
            labels.update(lot_id=values["lot"], lot_no=self.lots[values["lot"]].lot_no)
        if "line" in values:
            line = self.lines.get(values["line"])
            labels.update(line_id=line.id if line else None, line_name=line.name if line else None)
            if line is not None:
                values.setdefault("factory", line.factory_id)
        if "factory" in values:
            factory = self.factories.get(values["factory"])
            labels.update(factory_id=factory.id if factory else None,
                          factory_name=factory.name if factory else None)
        if "product" in values:
            product = self.products.get(values["product"])
            labels.update(product_id=product.id if product else None, sku=product.sku if product else None,
                          product_name=product.name if product else None)
        return labels
