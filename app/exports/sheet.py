"""Writing rows into an .xlsx sheet or a CSV file, with columns taken from a marshmallow schema.

Pure of Flask and the database, so the benchmark measures exactly what an export runs. Rows come in
chunks of dumped dicts (``schema.dump(items)``) and go straight to the file: XlsxWriter's
constant_memory mode flushes each row as the next begins, so memory stays flat in the row count.
"""
from __future__ import annotations

import csv
import enum
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import marshmallow as ma
import xlsxwriter

from app.exports.labels import label_of
from app.platform.clock import BUSINESS_TZ

# An .xlsx sheet holds 1,048,576 rows, the header included.
XLSX_MAX_ROWS = 1_048_575
# Excel keeps 15 significant digits: larger integers (a code's serial) are written as text.
EXACT_IN_EXCEL = 2**53
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Format(str, enum.Enum):
    XLSX = "xlsx"
    CSV = "csv"

    @property
    def mimetype(self) -> str:
        if self is Format.XLSX:
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return "text/csv; charset=utf-8"

    @property
    def max_rows(self) -> int | None:
        return XLSX_MAX_ROWS if self is Format.XLSX else None


class Kind(str, enum.Enum):
    TEXT = "text"
    INT = "int"
    NUMBER = "number"
    MONEY = "money"  # fen in the data, yuan in the file
    DATE = "date"
    DATETIME = "datetime"  # UTC in the data, China time in the file
    BOOL = "bool"


class MissingLabel(ValueError):
    """A schema field to export has no Chinese label (metadata label_zh, nor app.exports.labels)."""


@dataclass(frozen=True)
class Column:
    path: tuple[str, ...]  # keys into a dumped row (more than one: a field of a nested object)
    label: str
    kind: Kind

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def header(self) -> str:
        """'数量 quantity': the Chinese label, what the values are in, and the field name beside."""
        unit = {Kind.MONEY: "(元)", Kind.DATETIME: "(北京时间)"}.get(self.kind, "")
        return f"{self.label}{unit} {self.name}"


def is_money(name: str, field: ma.fields.Field) -> bool:
    """Money is counted in fen: fields named *_fen, or marked metadata={"money": "fen"}."""
    return name.endswith("_fen") or field.metadata.get("money") == "fen"


def kind_of(name: str, field: ma.fields.Field) -> Kind:
    # Date and Time are DateTimes to marshmallow: ask about them first.
    if isinstance(field, ma.fields.Date):
        return Kind.DATE
    if isinstance(field, ma.fields.Time):
        return Kind.TEXT
    if isinstance(field, ma.fields.DateTime):
        return Kind.DATETIME
    if isinstance(field, ma.fields.Boolean):
        return Kind.BOOL
    if isinstance(field, ma.fields.Integer):
        return Kind.MONEY if is_money(name, field) else Kind.INT
    if isinstance(field, (ma.fields.Float, ma.fields.Decimal)):
        return Kind.NUMBER
    return Kind.TEXT


def columns_of(schema: ma.Schema, *, _path: tuple[str, ...] = (), _label: str = "") -> list[Column]:
    """The columns of a schema's dumped rows, in field order; a nested object's fields become columns
    of their own ("产品SKU编码 product.sku"). Raises MissingLabel for a field with no Chinese label."""
    columns = []
    for name, field in schema.dump_fields.items():
        label = label_of(name, field)
        if label is None:
            raise MissingLabel(f"{type(schema).__name__}.{name} has no Chinese label "
                               "(metadata={'label_zh': ...} or app/exports/labels.py)")
        key = field.data_key or name
        if isinstance(field, ma.fields.Nested) and not field.many:
            columns += columns_of(field.schema, _path=_path + (key,), _label=_label + label)
        else:
            columns.append(Column(path=_path + (key,), label=_label + label, kind=kind_of(name, field)))
    return columns


def _lookup(row: dict, path: tuple[str, ...]):
    value = row
    for key in path:
        if value is None:
            return None
        value = value.get(key)
    return value


def china_time(value: str | datetime) -> datetime:
    """A dumped time (ISO text, UTC when it names no offset) as a naive China time, as Excel holds times."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(BUSINESS_TZ).replace(tzinfo=None, microsecond=0)


def yuan_text(fen: int) -> str:
    """1234 fen -> '12.34' (exact: no float on the way)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _text(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def typed_value(column: Column, value):
    """A dumped value as the file holds it: datetime, date, float yuan, int, bool or text; None blank."""
    if value is None or value == "":
        return None
    kind = column.kind
    if kind is Kind.DATETIME:
        return china_time(value)
    if kind is Kind.DATE:
        return date.fromisoformat(value) if isinstance(value, str) else value
    if kind is Kind.MONEY:
        return int(value)
    if kind is Kind.INT:
        return int(value)
    if kind is Kind.NUMBER:
        return float(value)
    if kind is Kind.BOOL:
        return bool(value)
    return _text(value)


def csv_value(column: Column, value) -> str:
    value = typed_value(column, value)
    if value is None:
        return ""
    kind = column.kind
    if kind is Kind.MONEY:
        return yuan_text(value)
    if kind is Kind.DATETIME:
        return value.replace(tzinfo=BUSINESS_TZ).isoformat()
    if kind is Kind.DATE:
        return value.isoformat()
    if kind is Kind.BOOL:
        return "true" if value else "false"
    if kind is Kind.TEXT and value.startswith(FORMULA_STARTS):
        # A spreadsheet would run "=HYPERLINK(...)" typed by a consumer as a formula; a quote keeps it text.
        return "'" + value
    return str(value)


class TooManyRows(ValueError):
    """More rows than the file (or the setting) may hold."""


@dataclass(frozen=True)
class Written:
    rows: int
    size: int


def write(*, fmt: Format, path: str | Path, columns: list[Column], chunks: Iterable[list[dict]],
          title: str = "export", max_rows: int | None = None,
          progress: Callable[[int], None] | None = None, progress_seconds: float = 1.0) -> Written:
    """Write the dumped rows of `chunks` to path (atomically: a .part file renamed at the end).

    progress(rows_done) is called at most every progress_seconds, and once at the end. More rows than
    max_rows (or than an .xlsx sheet holds) raise TooManyRows and leave no file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    limits = [n for n in (max_rows, fmt.max_rows) if n is not None]
    limit = min(limits) if limits else None
    writer = _XlsxWriter(partial, columns, title) if fmt is Format.XLSX else _CsvWriter(partial, columns)
    rows, last_report = 0, time.monotonic()
    try:
        for chunk in chunks:
            if limit is not None and rows + len(chunk) > limit:
                raise TooManyRows(f"more than {limit:,} rows")
            for row in chunk:
                writer.row(rows + 1, row)
                rows += 1
            if progress is not None and time.monotonic() - last_report >= progress_seconds:
                progress(rows)
                last_report = time.monotonic()
        writer.close()
    except BaseException:
        writer.abandon()
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    if progress is not None:
        progress(rows)
    return Written(rows=rows, size=path.stat().st_size)


class _CsvWriter:
    def __init__(self, path: Path, columns: list[Column]):
        self.columns = columns
        # The byte-order mark makes Excel read the file as UTF-8 (Chinese shows as Chinese).
        self.file = open(path, "w", encoding="utf-8-sig", newline="")
        self.csv = csv.writer(self.file)
        self.csv.writerow([c.header for c in columns])

    def row(self, number: int, row: dict) -> None:
        self.csv.writerow([csv_value(c, _lookup(row, c.path)) for c in self.columns])

    def close(self) -> None:
        self.file.close()

    def abandon(self) -> None:
        self.file.close()


WIDTHS = {Kind.DATETIME: 20, Kind.DATE: 12, Kind.MONEY: 14, Kind.INT: 12, Kind.NUMBER: 12, Kind.BOOL: 8,
          Kind.TEXT: 24}


class _XlsxWriter:
    def __init__(self, path: Path, columns: list[Column], title: str):
        self.columns = columns
        # Strings stay strings: no formula, number or link is read into a value someone typed.
        self.book = xlsxwriter.Workbook(str(path), {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
            "strings_to_urls": False})
        self.sheet = self.book.add_worksheet(_sheet_name(title))
        header = self.book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
        self.formats = {
            Kind.MONEY: self.book.add_format({"num_format": "0.00"}),
            Kind.DATE: self.book.add_format({"num_format": "yyyy-mm-dd"}),
            Kind.DATETIME: self.book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            Kind.INT: self.book.add_format({"num_format": "0"}),
        }
        for index, column in enumerate(columns):
            self.sheet.set_column(index, index, WIDTHS[column.kind])
            self.sheet.write_string(0, index, column.header, header)
        self.sheet.freeze_panes(1, 0)

    def row(self, number: int, row: dict) -> None:
        sheet = self.sheet
        for index, column in enumerate(self.columns):
            value = typed_value(column, _lookup(row, column.path))
            if value is None:
                continue
            kind = column.kind
            if kind is Kind.MONEY:
                sheet.write_number(number, index, value / 100, self.formats[Kind.MONEY])
            elif kind is Kind.INT:
                if abs(value) < EXACT_IN_EXCEL:
                    sheet.write_number(number, index, value, self.formats[Kind.INT])
                else:
                    sheet.write_string(number, index, str(value))
            elif kind is Kind.NUMBER:
                sheet.write_number(number, index, value)
            elif kind is Kind.DATE:
                sheet.write_datetime(number, index, datetime.combine(value, datetime.min.time()),
                                     self.formats[Kind.DATE])
            elif kind is Kind.DATETIME:
                sheet.write_datetime(number, index, value, self.formats[Kind.DATETIME])
            elif kind is Kind.BOOL:
                sheet.write_boolean(number, index, value)
            else:
                sheet.write_string(number, index, value)

    def close(self) -> None:
        self.book.close()

    def abandon(self) -> None:
        try:
            self.book.close()
        except Exception:  # noqa: BLE001 - the file is deleted anyway
            pass


def _sheet_name(title: str) -> str:
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in title).strip("'") or "export"
    return cleaned[:31]
