"""Schema pieces the master-data blueprints share."""
from __future__ import annotations

import marshmallow as ma

from app.masterdata.models import Status

STATUS_NAMES = [s.value for s in Status]


def text(max_length: int, **kwargs) -> ma.fields.String:
    return ma.fields.String(validate=ma.validate.Length(max=max_length), **kwargs)


def external_id(**kwargs) -> ma.fields.String:
    return ma.fields.String(validate=ma.validate.Length(max=64), allow_none=True,
                            metadata={"description": "The ERP's id of this record"}, **kwargs)


def status_filter() -> ma.fields.String:
    return ma.fields.String(validate=ma.validate.OneOf(STATUS_NAMES))


def status() -> ma.fields.Enum:
    return ma.fields.Enum(Status, by_value=True)
