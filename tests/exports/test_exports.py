"""The export writer (typed cells, Chinese headers, limits), the chunked reader, and respond()."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

import marshmallow as ma
import openpyxl
import pytest
import sqlalchemy as sa
from flask import g

from app.exports import rows, sheet
from app.exports.labels import LABELS
from app.exports.web import exportable_views, list_schema, respond
from app.extensions import db
from app.identity.service import Actor
from app.identity.models import Role
from app.masterdata.models import Dealer, Product
from tests.masterdata_factories import BEIJING, ZHEJIANG, make_dealer, make_product


class LineSchema(ma.Schema):
    id = ma.fields.Integer()
    serial = ma.fields.Integer()
    amount_fen = ma.fields.Integer()
    bonus = ma.fields.Integer(metadata={"label_zh": "奖励", "money": "fen"})
    day = ma.fields.Date()
    created_at = ma.fields.DateTime()
    note = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean()
    product = ma.fields.Nested(ma.Schema.from_dict({"sku": ma.fields.String(), "name": ma.fields.String()}))


LINES = [
    {"id": 1, "serial": 2**60 + 1, "amount_fen": 1234, "bonus": -5, "day": date(2026, 3, 1),
     "created_at": datetime(2026, 3, 1, 17, 30, tzinfo=timezone.utc), "note": "=HYPERLINK(\"http://x\")",
     "active": True, "product": {"sku": "A-1", "name": "酱香 53°"}},
    {"id": 2, "serial": 7, "amount_fen": 0, "bonus": 100, "day": date(2026, 3, 2),
     "created_at": datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc), "note": None, "active": False,
     "product": None},
]


def write(tmp_path, fmt, **kwargs):
    schema = LineSchema(many=True)
    path = tmp_path / f"out.{fmt.value}"
    written = sheet.write(fmt=fmt, path=path, columns=sheet.columns_of(schema), chunks=[schema.dump(LINES)],
                          **kwargs)
    return path, written


def test_xlsx_cells_are_typed_with_chinese_headers(tmp_path):
    path, written = write(tmp_path, sheet.Format.XLSX)
    assert written.rows == 2
    ws = openpyxl.load_workbook(path).active
    header = [c.value for c in ws[1]]
    assert header == ["编号 id", "序列号 serial", "金额(元) amount_fen", "奖励(元) bonus", "日期 day",
                      "创建时间(北京时间) created_at", "备注 note", "启用 active", "产品SKU编码 product.sku",
                      "产品名称 product.name"]
    first, second = ws[2], ws[3]
    assert first[0].value == 1 and first[0].data_type == "n"
    assert first[1].value == str(2**60 + 1)  # past Excel's 15 digits: text, exact
    assert first[2].value == 12.34 and first[2].number_format == "0.00"
    assert first[3].value == -0.05 and first[3].number_format == "0.00"
    assert first[4].is_date and first[4].value == datetime(2026, 3, 1)
    assert first[5].is_date and first[5].value == datetime(2026, 3, 2, 1, 30)  # 17:30 UTC is 01:30 next day in China
    assert first[6].value == "=HYPERLINK(\"http://x\")" and first[6].data_type == "s"  # text, never a formula
    assert first[7].value is True and second[7].value is False
    assert first[8].value == "A-1" and first[9].value == "酱香 53°"
    assert second[6].value is None and second[8].value is None


def test_csv_has_a_bom_the_same_headers_and_plain_values(tmp_path):
    path, _ = write(tmp_path, sheet.Format.CSV)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][2] == "金额(元) amount_fen"
    assert table[1] == [
        "1", str(2**60 + 1), "12.34", "-0.05", "2026-03-01", "2026-03-02T01:30:00+08:00",
        "'=HYPERLINK(\"http://x\")", "true", "A-1", "酱香 53°"]
    assert table[2][:8] == ["2", "7", "0.00", "1.00", "2026-03-02", "2026-03-02T09:00:00+08:00", "", "false"]


def test_more_rows_than_allowed_leave_no_file(tmp_path):
    with pytest.raises(sheet.TooManyRows):
        write(tmp_path, sheet.Format.XLSX, max_rows=1)
    assert list(tmp_path.iterdir()) == []


def test_a_field_without_a_chinese_label_is_refused():
    class Unlabelled(ma.Schema):
        wibble_factor = ma.fields.Integer()

    with pytest.raises(sheet.MissingLabel, match="wibble_factor"):
        sheet.columns_of(Unlabelled())


def test_every_exported_column_of_every_back_office_list_has_a_chinese_label(app):
    from app import admin_api

    views = exportable_views(app, {b.name for b in admin_api.BLUEPRINTS})
    assert len(views) >= 48
    for view in views:
        columns = sheet.columns_of(list_schema(view._apidoc))  # raises MissingLabel
        assert all(c.label and not c.label.isascii() or c.label in ("OpenID", "SKU编码") for c in columns), view
    assert all(label.strip() for label in LABELS.values())


def test_money_fields_are_yuan_in_every_list(app):
    from app import admin_api

    money = {c.name for view in exportable_views(app, {b.name for b in admin_api.BLUEPRINTS})
             for c in sheet.columns_of(list_schema(view._apidoc)) if c.kind is sheet.Kind.MONEY}
    assert {"amount_fen", "total_budget_fen", "spent_fen"} <= money


def test_yuan_text_is_exact():
    assert [sheet.yuan_text(f) for f in (0, 5, 1234, -1, -1234, 10**17 + 1)] == [
        "0.00", "0.05", "12.34", "-0.01", "-12.34", "1000000000000000.01"]


def test_a_select_is_read_in_chunks_in_its_order_with_lazy_loads_between(app):
    dealers = [make_dealer(territory=[BEIJING if i % 2 else ZHEJIANG]) for i in range(5)]
    statement = sa.select(Dealer).order_by(Dealer.id.desc())
    seen = []
    for chunk in rows.select_chunks(statement, entities=True, chunk_rows=2):
        # A lazy load per entity while the cursor is open (MySQL refuses that on one connection).
        seen.append([(d.id, [r.code for r in d.territory]) for d in chunk])
    assert [len(c) for c in seen] == [2, 2, 1]
    assert [d for chunk in seen for d, _ in chunk] == sorted((d.id for d in dealers), reverse=True)
    assert all(len(territory) == 1 for chunk in seen for _, territory in chunk)


def test_a_select_of_labelled_columns_is_read_as_rows(app):
    made = [make_product() for _ in range(3)]
    statement = sa.select(Product.id.label("id"), Product.sku.label("sku")).order_by(Product.id)
    got = [row.sku for chunk in rows.select_chunks(statement, entities=False, chunk_rows=2) for row in chunk]
    assert got == [p.sku for p in made]


class SkuSchema(ma.Schema):
    sku = ma.fields.String()
    total_fen = ma.fields.Integer()


def test_respond_gives_the_rows_back_without_a_file_format(app):
    data = [{"sku": "A", "total_fen": 150}]
    with app.test_request_context("/api/admin/reports/x"):
        assert respond(data, SkuSchema(many=True), name="x") is data
    with app.test_request_context("/api/admin/reports/x?format=json"):
        assert respond(data, SkuSchema(many=True), name="x") is data


def test_respond_answers_a_file_for_any_rows(app):
    from tests.factories import make_user

    user = make_user(Role.MARKETER)
    data = ({"sku": f"S{i}", "total_fen": i * 101} for i in range(3))  # a generator: read once
    with app.test_request_context("/api/admin/reports/sales?format=csv&days=7"):
        g.actor = Actor(kind="user", id=user.id, name=user.username, role=user.role)
        response = respond(data, SkuSchema(many=True), name="sales")
        response.direct_passthrough = False
        text = response.get_data().decode("utf-8-sig")
    assert text.splitlines() == ["SKU编码 sku,合计金额(元) total_fen", "S0,0.00", "S1,1.01", "S2,2.02"]
    from app.identity.models import AuditRecord
    record = db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "export.download"))
    assert record.changes["filters"] == [None, {"days": "7"}] and record.actor_id == user.id


def test_respond_refuses_an_unknown_format(app):
    from app.errors import ValidationFailed

    with app.test_request_context("/api/admin/reports/x?format=docx"):
        with pytest.raises(ValidationFailed) as refused:
            respond([], SkuSchema(many=True), name="x")
    assert "format" in refused.value.errors["query"]


def test_a_streamed_read_outlives_the_servers_write_timeout(app):
    """MariaDB drops a streamed result it could not send for net_write_timeout (60 s): an export writing
    a million rows takes longer. The reading connection asks for a day (seen from the stream itself)."""
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite reads an export's keys first: there is no stream to time out")
    statement = sa.select(sa.literal_column("@@SESSION.net_write_timeout").label("timeout"))
    (chunk,) = list(rows.select_chunks(statement, entities=False))
    assert int(chunk[0].timeout) >= 3600
    with db.engine.connect() as connection:  # the pool's connections keep the server's default
        assert int(connection.scalar(sa.text("SELECT @@SESSION.net_write_timeout"))) < 3600


def test_an_export_stopped_halfway_leaves_no_connection_mid_stream(app):
    made = [make_product() for _ in range(5)]
    reader = rows.select_chunks(sa.select(Product).order_by(Product.id), entities=True, chunk_rows=2)
    assert [p.id for p in next(reader)] == [p.id for p in made[:2]]
    reader.close()  # the writer failed: the stream is abandoned
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Product)) == 5  # the pool still works


def test_respond_queues_a_job_for_more_rows_than_the_response_holds(app, monkeypatch):
    from app.exports.models import DataExportJob, ExportStatus
    from tests.factories import make_user

    monkeypatch.setitem(app.config, "EXPORT_INLINE_MAX_ROWS", 2)
    monkeypatch.setitem(app.config, "EXPORT_RUNNER", "worker")
    user = make_user(Role.ADMIN)
    taken = []

    def report_rows():
        for i in range(5):
            taken.append(i)
            yield {"sku": f"S{i}", "total_fen": i}

    with app.test_request_context("/api/admin/payouts?format=xlsx&status=paid"):
        g.actor = Actor(kind="user", id=user.id, name=user.username, role=user.role)
        response = respond(report_rows(), SkuSchema(many=True), name="sales")
    assert response.status_code == 202
    assert taken == [0, 1, 2]  # read no further than it took to know
    job = db.session.scalar(sa.select(DataExportJob))
    assert (job.status, job.rows_total, job.filters) == (ExportStatus.QUEUED, None, {"status": "paid"})


def test_a_replayed_request_hands_respond_its_rows(app):
    from app.exports.web import _Collector
    from app.http import LIST_EXPORTER

    collector = _Collector(None)
    with app.test_request_context("/api/admin/reports/x?format=csv"):
        from flask import request
        request.environ[LIST_EXPORTER] = collector
        assert respond(iter([{"sku": "A", "total_fen": 1}]), SkuSchema(many=True), name="x") == []
    assert collector.source.total is None
    assert [row for chunk in collector.source.dumped_chunks() for row in chunk] == [{"sku": "A", "total_fen": 1}]
