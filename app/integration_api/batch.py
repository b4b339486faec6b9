"""What every bulk-upsert endpoint shares: the batch envelope and the per-item answer."""
from __future__ import annotations

from dataclasses import asdict

import marshmallow as ma

from app.bulk import ItemResult
from app.schemas import Int

MAX_ITEMS = 1000


def batch_of(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """``{"items": [item, ...]}`` with 1 to MAX_ITEMS items."""
    name = item_schema.__name__.replace("ItemSchema", "BatchSchema")
    return ma.Schema.from_dict({"items": ma.fields.List(
        ma.fields.Nested(item_schema), required=True,
        validate=ma.validate.Length(min=1, max=MAX_ITEMS))}, name=name)


class UpsertItemResultSchema(ma.Schema):
    external_id = ma.fields.String()
    id = Int(allow_none=True)
    result = ma.fields.String(metadata={"description": "created | updated | unchanged"})


class UpsertResultSchema(ma.Schema):
    created = Int()
    updated = Int()
    unchanged = Int()
    items = ma.fields.List(ma.fields.Nested(UpsertItemResultSchema))


def answer(results: list[ItemResult]) -> dict:
    """The counts per result and every item's result."""
    items = [asdict(result) for result in results]
    counts = {name: sum(1 for item in items if item["result"] == name)
              for name in ("created", "updated", "unchanged")}
    return {**counts, "items": items}
