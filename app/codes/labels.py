"""Label artwork: QR images (PNG, SVG) of label URLs and a printable sample label sheet."""
from __future__ import annotations

import io
from html import escape

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M

# M recovers ~15% damage: enough for scuffed caps, and a short URL still fits a version-3 symbol.
ERROR_CORRECTION = ERROR_CORRECT_M


def _qr(data: str, box_size: int = 8) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECTION, box_size=box_size, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    return qr


def qr_png(data: str, *, box_size: int = 8) -> bytes:
    """A QR code of data as PNG."""
    out = io.BytesIO()
    _qr(data, box_size).make_image().save(out)
    return out.getvalue()


def qr_svg(data: str) -> bytes:
    """A QR code of data as a standalone SVG document (one path, scales to any print size)."""
    return _qr(data).make_image(image_factory=qrcode.image.svg.SvgPathImage).to_string(encoding="unicode").encode()


def _inline_svg(data: str) -> str:
    svg = _qr(data).make_image(image_factory=qrcode.image.svg.SvgPathImage).to_string(encoding="unicode")
    return svg[svg.index("<svg"):]


def label_sheet_html(*, title: str, labels: list[tuple[str, str, str | None]]) -> str:
    """An A4 page of labels: QR of the URL, the code in print, and the hidden code line if any.

    labels holds (code, url, caption) tuples.
    """
    cells = "\n".join(
        f'<div class="label">{_inline_svg(url)}<div class="code">{escape(code)}</div>'
        f'<div class="caption">{escape(caption or "")}</div></div>'
        for code, url, caption in labels
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
@page {{ size: A4; margin: 10mm; }}
body {{ font-family: "DejaVu Sans Mono", monospace; margin: 0; }}
h1 {{ font-size: 12pt; font-family: sans-serif; }}
.sheet {{ display: grid; grid-template-columns: repeat(4, 45mm); gap: 3mm; }}
.label {{ border: 0.2mm dashed #999; padding: 2mm; text-align: center; break-inside: avoid; }}
.label svg {{ width: 30mm; height: 30mm; }}
.code {{ font-size: 8pt; letter-spacing: 0.3pt; }}
.caption {{ font-size: 6pt; color: #555; word-break: break-all; }}
</style></head>
<body><h1>{escape(title)}</h1><div class="sheet">
{cells}
</div></body></html>
"""
