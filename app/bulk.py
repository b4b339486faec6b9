"""Bulk upsert by external id, shared by every machine-API sync: all or nothing, idempotent.

Records are matched by ``external_id`` and saved in order (each seeing the ones before it); if
any is refused, ``BatchRejected`` carries the reason of each refused item so the caller's
transaction writes nothing. The same payload sent twice answers "unchanged" for every item.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa

from app.errors import ValidationFailed
from app.extensions import db


class ExternalIdDuplicate(ValidationFailed):
    code = "external_id_duplicate"
    message = "The batch holds the same external id more than once."


class BatchRejected(ValidationFailed):
    code = "batch_rejected"
    message = "Some items are not valid; nothing was written (see errors.items)."


@dataclass
class ItemResult:
    index: int
    external_id: str
    id: int | None = None
    result: str = "rejected"  # created | updated | unchanged | rejected
    code: str | None = None
    message: str | None = None


def upsert_batch(*, records: list[dict], model, save: Callable[[object | None, dict], tuple[object, str]],
                 order: list[int] | None = None, refused: dict[int, ValidationFailed] | None = None
                 ) -> list[ItemResult]:
    """Save each record (created/updated/unchanged) in order; all or nothing."""
    seen: dict[str, int] = {}
    for index, record in enumerate(records):
        key = record["external_id"]
        if key in seen:
            raise ExternalIdDuplicate(
                f"The external id {key!r} appears more than once (items {seen[key]} and {index}).",
                errors={"external_id": [key]})
        seen[key] = index
    results = [ItemResult(index=i, external_id=r["external_id"]) for i, r in enumerate(records)]
    for index in order if order is not None else range(len(records)):
        result, record = results[index], records[index]
        current = db.session.scalar(sa.select(model).where(model.external_id == record["external_id"]))
        result.id = current.id if current else None
        try:
            if refused and index in refused:
                raise refused[index]
            obj, result.result = save(current, record)
            result.id = obj.id
        except ValidationFailed as error:
            result.result, result.code, result.message = "rejected", error.code, error.message
    rejected = [r for r in results if r.result == "rejected"]
    if rejected:
        raise BatchRejected(
            f"{len(rejected)} of {len(records)} items are not valid; nothing was written.",
            errors={"items": [{"index": r.index, "external_id": r.external_id, "code": r.code,
                               "message": r.message} for r in rejected]})
    return results


def saver(actor, create: Callable, save_existing: Callable):
    """A save step for upsert_batch: create when new, else save_existing(actor, obj, record) -> changed."""
    def save(current, record):
        if current is None:
            return create(actor=actor, data=record), "created"
        return current, "updated" if save_existing(actor, current, record) else "unchanged"
    return save
