"""Every back-office list exports to .xlsx and CSV: typed cells, Chinese headers, the list's filters,
small exports in the response, large ones as jobs with progress, download, ownership and retention."""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.db import transaction
from app.exports import rows, service
from app.exports.models import DataExportJob, ExportStatus
from app.platform.clock import BUSINESS_TZ as CHINA
from app.extensions import db
from app.identity.models import AdminUser, AuditRecord, Role
from app.payouts.models import Payout
from tests.export_readers import csv_of, sheet_of


def column(header_row, name: str) -> int:
    """Index of the column whose header ends with the field name ("金额(元) amount_fen")."""
    headers = [cell.value if hasattr(cell, "value") else cell for cell in header_row]
    matches = [i for i, h in enumerate(headers) if h.split(" ")[-1] == name]
    assert matches, headers
    return matches[0]


def test_a_list_exports_every_matching_row_to_xlsx_with_typed_cells(client, auth, payouts):
    headers = auth.as_admin()
    sheet = sheet_of(client.get("/api/admin/payouts?format=xlsx&page_size=1", headers=headers))
    table = list(sheet.iter_rows())
    header, body = table[0], table[1:]
    assert len(body) == 3  # every row, not the page of 1
    money, when, ident = (column(header, "amount_fen"), column(header, "next_attempt_at"), column(header, "id"))
    assert header[money].value == "金额(元) amount_fen"
    assert header[when].value == "下次尝试时间(北京时间) next_attempt_at"
    by_id = {row[ident].value: row for row in body}
    first = by_id[payouts[0].id]
    assert first[money].value == 12.34 and first[money].number_format == "0.00"
    assert by_id[payouts[1].id][money].value == 0.05
    assert by_id[payouts[2].id][money].value == 1000.00
    assert isinstance(first[ident].value, int)
    assert first[when].is_date
    stored = db.session.get(Payout, payouts[0].id).next_attempt_at
    assert first[when].value == stored.astimezone(CHINA).replace(tzinfo=None, microsecond=0)


def test_csv_has_the_same_headers_and_values_as_the_json_list(client, auth, payouts):
    headers = auth.headers_for(Role.FINANCE)  # openids are masked for finance, in the file as in the JSON
    listed = client.get("/api/admin/payouts?page_size=100", headers=headers).get_json()
    table = csv_of(client.get("/api/admin/payouts?format=csv", headers=headers))
    header, body = table[0], table[1:]
    money, openid, ident = column(header, "amount_fen"), column(header, "openid"), column(header, "id")
    assert [row[ident] for row in body] == [str(p["id"]) for p in listed]
    assert [row[money] for row in body] == [f"{p['amount_fen'] // 100}.{p['amount_fen'] % 100:02d}" for p in listed]
    assert "12.34" in [row[money] for row in body]
    assert [row[openid] for row in body] == [p["openid"] for p in listed]
    when = body[0][column(header, "created_at")]
    assert when.endswith("+08:00") and datetime.fromisoformat(when) == (
        datetime.fromisoformat(listed[0]["created_at"]).replace(microsecond=0))


def test_an_export_keeps_the_lists_filters(client, auth, payouts):
    headers = auth.as_admin()
    with transaction():
        db.session.execute(sa.update(Payout).where(Payout.id == payouts[1].id).values(hold_reason="review"))
    table = csv_of(client.get("/api/admin/payouts?format=csv&purpose=withdrawal", headers=headers))
    assert table[1:] == []
    table = csv_of(client.get("/api/admin/payouts?format=csv&purpose=prize", headers=headers))
    assert len(table) == 4


def test_an_unknown_format_is_a_422_naming_the_parameter(client, auth):
    response = client.get("/api/admin/payouts?format=pdf", headers=auth.as_admin())
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "validation_failed" and "format" in body["errors"]["query"]


def test_a_list_still_refuses_unknown_parameters_and_other_audiences_take_no_format(client, auth):
    response = client.get("/api/admin/payouts?format=csv&colour=red", headers=auth.as_admin())
    assert response.status_code == 422 and list(response.get_json()["errors"]["query"]) == ["colour"]
    # Machine clients page their lists as JSON: exports are the back office's.
    response = client.get("/api/integration/line/sessions?format=csv", headers=auth.key_headers("production"))
    assert response.status_code == 422 and list(response.get_json()["errors"]["query"]) == ["format"]


def test_an_export_in_the_response_is_audited_with_its_filters(client, auth, payouts):
    client.get("/api/admin/payouts?format=xlsx&purpose=prize", headers=auth.as_admin())
    record = db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "export.download"))
    assert record.changes["filters"] == [None, {"purpose": "prize"}]
    assert record.changes["rows"] == [None, 3] and record.changes["format"] == [None, "xlsx"]
    assert record.changes["list"] == [None, "/api/admin/payouts"]


def test_an_export_over_the_maximum_is_refused_before_any_work(client, auth, payouts, app, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_MAX_ROWS", 2)
    response = client.get("/api/admin/payouts?format=csv", headers=auth.as_admin())
    assert response.status_code == 422 and response.get_json()["code"] == "export_too_large"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DataExportJob)) == 0


def test_an_export_over_the_inline_limit_runs_as_a_job_with_progress_and_a_download(
        client, auth, payouts, small_inline_limit, monkeypatch):
    progress = []
    real_update = service._update
    monkeypatch.setattr(service, "PROGRESS_SECONDS", 0)
    monkeypatch.setattr(rows, "CHUNK_ROWS", 1)
    monkeypatch.setattr(service, "_update", lambda job_id, attempt, **values: (
        progress.append(values.get("rows_done")), real_update(job_id, attempt, **values)))
    headers = auth.as_admin()
    response = client.get("/api/admin/payouts?format=xlsx&purpose=prize", headers=headers)
    assert response.status_code == 202
    job = response.get_json()
    assert job["status"] == "done" and job["rows_done"] == 3 and job["rows_total"] == 3  # the inline runner (tests)
    assert job["links"] == {"self": f"/api/admin/exports/{job['id']}", "file": f"/api/admin/exports/{job['id']}/file"}
    assert response.headers["Location"] == job["links"]["self"]
    assert [n for n in progress if n is not None] == [1, 2, 3, 3]
    assert client.get(job["links"]["self"], headers=headers).get_json()["status"] == "done"
    download = client.get(job["links"]["file"], headers=headers)
    sheet = sheet_of(download)
    assert download.headers["Content-Disposition"].startswith("attachment; filename=payouts-")
    assert sheet.max_row == 4
    actions = db.session.scalars(sa.select(AuditRecord.action).where(AuditRecord.entity_type == "export_jobs")).all()
    assert sorted(actions) == ["export.download", "export.request"]
    listed = client.get("/api/admin/exports", headers=headers).get_json()
    assert [j["id"] for j in listed] == [job["id"]]


def test_a_queued_export_waits_for_the_worker(client, auth, payouts, small_inline_limit, app, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_RUNNER", "worker")
    headers = auth.as_admin()
    job = client.get("/api/admin/payouts?format=csv", headers=headers).get_json()
    assert job["status"] == "queued" and job["rows_done"] == 0 and job["rows_total"] == 3
    assert client.get(job["links"]["file"], headers=headers).status_code == 409
    assert service.run_queued() == 1
    table = csv_of(client.get(job["links"]["file"], headers=headers))
    assert len(table) == 4


def test_another_user_cannot_see_or_download_an_export_but_an_admin_can(
        client, auth, payouts, small_inline_limit):
    mine = auth.headers_for(Role.FINANCE)
    job = client.get("/api/admin/payouts?format=csv", headers=mine).get_json()
    other = auth.headers_for(Role.FINANCE)
    assert client.get(job["links"]["self"], headers=other).status_code == 404
    response = client.get(job["links"]["file"], headers=other)
    assert response.status_code == 404 and response.get_json()["code"] == "export_not_found"
    assert client.get("/api/admin/exports", headers=other).get_json() == []
    assert client.get(job["links"]["file"], headers=auth.as_admin()).status_code == 200
    assert client.get(job["links"]["file"], headers=mine).status_code == 200


def test_an_export_whose_requester_lost_the_right_fails(client, auth, payouts, small_inline_limit, app,
                                                       monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_RUNNER", "worker")
    headers = auth.headers_for(Role.FINANCE)
    job = client.get("/api/admin/payouts?format=csv", headers=headers).get_json()
    with transaction():
        db.session.execute(sa.update(AdminUser).where(AdminUser.role == Role.FINANCE).values(is_active=False))
    service.run_queued()
    failed = db.session.get(DataExportJob, job["id"], populate_existing=True)
    assert failed.status is ExportStatus.FAILED and "no longer active" in failed.error


def test_an_export_is_removed_after_its_retention_and_then_answers_410(client, auth, payouts, small_inline_limit):
    headers = auth.as_admin()
    job = client.get("/api/admin/payouts?format=csv", headers=headers).get_json()
    path = Path(db.session.get(DataExportJob, job["id"]).file_path)
    assert path.is_file()
    assert service.purge_expired() == 0  # still within EXPORT_RETENTION_HOURS
    with transaction():
        db.session.get(DataExportJob, job["id"]).finished_at -= timedelta(hours=25)
    response = client.get(job["links"]["file"], headers=headers)
    assert response.status_code == 410 and response.get_json()["code"] == "export_expired"
    left_behind = service.export_dir() / "inline" / "payouts-cut-short.csv"
    left_behind.parent.mkdir(parents=True, exist_ok=True)
    left_behind.write_text("a response never sent")
    os.utime(left_behind, (time.time() - 25 * 3600,) * 2)
    assert service.purge_expired() == 1
    assert not path.exists() and not left_behind.exists()
    assert client.get(job["links"]["self"], headers=headers).get_json()["status"] == "expired"
    assert client.get(job["links"]["file"], headers=headers).status_code == 410


def exportable_list_paths(app) -> list[str]:
    from app import admin_api
    from app.exports.web import exportable_views

    views = set(exportable_views(app, {b.name for b in admin_api.BLUEPRINTS}))
    paths = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view = getattr(getattr(view, "view_class", None), "get", view)
        if view in views:
            paths.append(rule.rule.replace("<int:", "<").split("<")[0] + "1" + rule.rule.split(">")[-1]
                         if "<" in rule.rule else rule.rule)
    return paths


def test_every_back_office_list_exports(client, auth, app):
    headers = auth.as_admin()
    paths = exportable_list_paths(app)
    assert len(paths) >= 48
    for path in paths:
        for fmt in ("xlsx", "csv"):
            response = client.get(f"{path}?format={fmt}", headers=headers)
            assert response.status_code in (200, 404), (path, fmt, response.get_json())
            if response.status_code == 200 and fmt == "xlsx":
                header = next(sheet_of(response).iter_rows(values_only=True))
                assert all(" " in h and h.split(" ")[0] for h in header), (path, header)


def test_a_list_whose_pager_turns_items_into_rows_exports_its_rows(client, auth):
    from tests import unit_factories as uf
    from tests.masterdata_factories import make_factory, make_product
    from tests.production_factories import make_line, make_production_lot

    factory, product = make_factory(), make_product()
    line = make_line(factory.id)
    lot = make_production_lot(product_id=product.id, factory_id=factory.id, line_id=line.id)
    uf.commission(lot, 5)
    headers = auth.headers_for(Role.OPS)
    url = f"/api/admin/trace/lots/{lot.id}/units"
    listed = client.get(f"{url}?page_size=100", headers=headers).get_json()
    table = csv_of(client.get(f"{url}?format=csv", headers=headers))
    header, body = table[0], table[1:]
    assert [row[column(header, "code")] for row in body] == [u["code"] for u in listed]
    assert [row[column(header, "location.name")] for row in body] == [u["location"]["name"] for u in listed]
    assert "当前位置名称 location.name" in header


def test_a_job_whose_worker_died_is_run_again(client, auth, payouts, small_inline_limit, app, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_RUNNER", "worker")
    headers = auth.as_admin()
    job = client.get("/api/admin/payouts?format=xlsx", headers=headers).get_json()
    assert service.claim(job["id"]) == 1  # a worker took it, then died without a word
    with transaction():
        db.session.get(DataExportJob, job["id"]).heartbeat_at -= timedelta(hours=1)
    assert service.work(once=True) == 1
    finished = db.session.get(DataExportJob, job["id"], populate_existing=True)
    assert (finished.status, finished.attempt, finished.rows_done) == (ExportStatus.DONE, 2, 3)
    assert sheet_of(client.get(job["links"]["file"], headers=headers)).max_row == 4


def test_a_job_that_meets_an_outage_is_not_failed_and_runs_again_once_it_is_over(
        client, auth, payouts, small_inline_limit, app, monkeypatch):
    import pymysql

    monkeypatch.setitem(app.config, "EXPORT_RUNNER", "worker")
    headers = auth.as_admin()
    job = client.get("/api/admin/payouts?format=csv", headers=headers).get_json()
    gone = sa.exc.OperationalError("SELECT 1", {}, pymysql.err.OperationalError(2013, "Lost connection"))
    real_write = service.write

    def lost(**kwargs):
        raise gone
    monkeypatch.setattr(service, "write", lost)
    with pytest.raises(sa.exc.OperationalError):
        service.run_queued()
    held = db.session.get(DataExportJob, job["id"], populate_existing=True)
    assert (held.status, held.error) == (ExportStatus.RUNNING, None)  # not failed: the outage was not its fault
    monkeypatch.setattr(service, "write", real_write)
    with transaction():
        db.session.get(DataExportJob, job["id"]).heartbeat_at -= timedelta(hours=1)
    assert service.run_queued() == 1
    done = db.session.get(DataExportJob, job["id"], populate_existing=True)
    assert (done.status, done.attempt) == (ExportStatus.DONE, 2)
    assert len(csv_of(client.get(job["links"]["file"], headers=headers))) == 4
