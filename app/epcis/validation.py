"""Validation of EPCIS 2.0 documents against the official GS1 JSON Schema (vendored under schema/)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft7Validator, FormatChecker

SCHEMA_FILE = Path(__file__).parent / "schema" / "EPCIS-JSON-Schema.json"
MAX_ERRORS = 20


@lru_cache(maxsize=1)
def _validator() -> Draft7Validator:
    return Draft7Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")), format_checker=FormatChecker())


def errors(document) -> list[str]:
    """What the schema finds wrong with a document (at most MAX_ERRORS, each "path: message"); [] when valid."""
    found = []
    for error in _validator().iter_errors(document):
        path = "/".join(str(p) for p in error.absolute_path) or "(document)"
        found.append(f"{path}: {error.message[:300]}")
        if len(found) == MAX_ERRORS:
            break
    return found
