"""Schema fields every HTTP layer shares."""
from __future__ import annotations

import marshmallow as ma
from werkzeug.routing import IntegerConverter

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Int(ma.fields.Integer):
    """An integer that fits a 64-bit column: larger input is a 422, never a database error."""

    def __init__(self, **kwargs):
        validate = kwargs.pop("validate", None)
        validators = [ma.validate.Range(min=INT64_MIN, max=INT64_MAX)]
        if validate is not None:
            validators += list(validate) if isinstance(validate, (list, tuple)) else [validate]
        super().__init__(validate=validators, **kwargs)


class IdConverter(IntegerConverter):
    """`<int:...>` in URLs: ids beyond a 64-bit column simply don't exist (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(map, *args, **kwargs)
