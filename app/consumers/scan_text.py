"""Reading a scanned text: the code a printed URL (short form or GS1 Digital Link) or a bare code carries."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from flask import current_app

from app.codes.format import CODE_LENGTH, normalise
from app.consumers.errors import ScanTextInvalid


_CODE_CHARS = re.compile(r"^[0-9A-Z]+$")
_TEXT_MAX = 500


@dataclass(frozen=True)
class ScannedText:
    code: str  # normalised
    gtin: str | None = None  # from a Digital Link
    from_url: bool = False


def parse_text(text: str) -> ScannedText:
    """The code a scanned text carries; ScanTextInvalid when it is not one of our forms."""
    text = (text or "").strip()
    if not text or len(text) > _TEXT_MAX:
        raise ScanTextInvalid()
    if "/" not in text:
        code = normalise(text)
        if len(code) != CODE_LENGTH or not _CODE_CHARS.match(code):
            raise ScanTextInvalid()
        return ScannedText(code)
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        raise ScanTextInvalid() from None
    config = current_app.config
    if parts.scheme.lower() not in ("http", "https") or \
            (parts.hostname or "").lower() != str(config["LABEL_DOMAIN"]).lower():
        raise ScanTextInvalid()
    segments = [unquote(s) for s in parts.path.split("/") if s]
    prefix = str(config["LABEL_PREFIX"])
    if len(segments) == 2 and segments[0] == prefix:
        return ScannedText(normalise(segments[1]), from_url=True)
    if len(segments) >= 4 and segments[0] == "01" and segments[-2] == "21" and len(segments) % 2 == 0:
        return ScannedText(normalise(segments[-1]), gtin=segments[1], from_url=True)
    raise ScanTextInvalid()
