"""Code issuance through the back office: batches, code packs, lookups, QR images."""
from __future__ import annotations

import csv
import io
import threading
import xml.etree.ElementTree as ET
import zipfile
from datetime import timedelta

import pytest
import pyzipper
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from app import gs1
from app.codes import export_jobs
from app.codes import service as codes
from app.codes.models import CodeBatch, CodeCounter, ExportJob, ExportStatus
from app.db import retried_transaction, utcnow
from app.extensions import db
from app.identity.models import AuditRecord, Role
from app.masterdata.models import Status
from tests.code_factories import GTIN, issue, make_product
from tests.concurrency import at_once, results_and_errors
from tests.galera import refused_as_busy


def download(client, headers, job_id) -> bytes:
    response = client.get(f"/api/admin/code-batches/exports/{job_id}/download", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.data


def csv_rows(archive: zipfile.ZipFile) -> list[dict]:
    rows = []
    for name in sorted(archive.namelist()):
        rows += list(csv.DictReader(io.StringIO(archive.read(name).decode())))
    return rows


def counts_of_rows():
    return {model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (CodeBatch, ExportJob, CodeCounter, AuditRecord)}


def test_issuing_returns_at_once_and_the_code_pack_holds_every_code(client, auth, app):
    headers = auth.as_admin()
    product = make_product()
    response = issue(client, headers, product_id=product.id, count=250, hidden_code_digits=8)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    batch, job = body["batch"], body["export"]
    assert batch["count"] == 250 and batch["level"] == "item" and batch["product"]["gtin"] == GTIN
    assert batch["serial_end"] - batch["serial_start"] == 249

    progress = client.get(f"/api/admin/code-batches/exports/{job['id']}", headers=headers).get_json()
    assert progress["status"] == "done" and progress["rows_done"] == progress["rows_total"] == 250

    archive = zipfile.ZipFile(io.BytesIO(download(client, headers, job["id"])))
    rows = csv_rows(archive)
    assert list(rows[0]) == ["code", "url", "digital_link_url", "hidden_code", "level", "batch"]
    assert len(rows) == 250 and len({r["code"] for r in rows}) == 250
    ring = codes.keyring()
    domain, prefix = app.config["LABEL_DOMAIN"], app.config["LABEL_PREFIX"]
    for row in rows:
        ident = ring.decode(row["code"])
        assert batch["serial_start"] <= ident.serial <= batch["serial_end"]
        assert row["url"] == f"https://{domain}/{prefix}/{row['code']}"
        assert row["digital_link_url"] == f"https://{domain}/01/{GTIN}/21/{row['code']}"
        assert len(row["hidden_code"]) == 8 and row["hidden_code"].isdigit()
        assert row["hidden_code"] == ring.hidden_code(ident.serial, 8, ident.key_version)
        assert (row["level"], row["batch"]) == ("item", batch["batch_no"])


def test_the_code_pack_is_split_into_files_of_the_configured_size(client, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "CODE_EXPORT_FILE_ROWS", 40)
    headers = auth.as_admin()
    job = issue(client, headers, count=100, level="case").get_json()["export"]
    archive = zipfile.ZipFile(io.BytesIO(download(client, headers, job["id"])))
    batch_no = client.get(f"/api/admin/code-batches/{job['batch_id']}", headers=headers).get_json()["batch_no"]
    assert archive.namelist() == [f"batch-{batch_no}-000{i}.csv" for i in (1, 2, 3)]
    sizes = [len(list(csv.DictReader(io.StringIO(archive.read(n).decode())))) for n in archive.namelist()]
    assert sizes == [40, 40, 20]
    rows = csv_rows(archive)
    # Unassigned codes: no product, so no GTIN and no Digital Link; no hidden codes on cases.
    assert {(r["digital_link_url"], r["hidden_code"], r["level"]) for r in rows} == {("", "", "case")}


def test_an_encrypted_code_pack_opens_only_with_its_password(client, auth):
    headers = auth.as_admin()
    batch = issue(client, headers, count=30).get_json()["batch"]
    response = client.post(f"/api/admin/code-batches/{batch['id']}/exports", headers=headers,
                           json={"password": "printer-password-42"})
    assert response.status_code == 202
    job = response.get_json()
    assert job["encrypted"] and job["status"] == "done"
    assert "password" not in job
    data = download(client, headers, job["id"])
    with pyzipper.AESZipFile(io.BytesIO(data)) as archive:
        name = archive.namelist()[0]
        with pytest.raises(RuntimeError):
            archive.read(name)  # no password
        archive.setpassword(b"wrong password!!")
        with pytest.raises(RuntimeError):
            archive.read(name)
        archive.setpassword(b"printer-password-42")
        assert len(archive.read(name).decode().splitlines()) == 31


def test_a_short_export_password_is_refused(client, auth):
    headers = auth.as_admin()
    response = issue(client, headers, export_password="short")
    assert response.status_code == 422 and response.get_json()["code"] == "password_too_short"


def test_every_download_is_audited(client, auth):
    headers = auth.headers_for(Role.OPS)
    job = issue(client, headers, count=5).get_json()["export"]
    download(client, headers, job["id"])
    download(client, headers, job["id"])
    records = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "code_pack.download")).all()
    assert len(records) == 2
    assert {(r.entity_type, r.entity_id, r.actor_type) for r in records} == {("code_export_jobs", str(job["id"]), "user")}
    assert records[0].changes["sha256"][1] == client.get(
        f"/api/admin/code-batches/exports/{job['id']}", headers=headers).get_json()["sha256"]


def test_resolving_a_code_tells_issued_forged_malformed_and_voided(client, auth):
    headers = auth.as_admin()
    product = make_product()
    batch = issue(client, headers, product_id=product.id, count=3).get_json()["batch"]
    code = codes.keyring().encode(batch["serial_start"] + 1)

    found = client.get(f"/api/admin/codes/{code.lower()}", headers=auth.headers_for(Role.AUDITOR)).get_json()
    assert found["valid"] and found["status"] == "issued" and found["code"] == code
    assert found["batch"]["id"] == batch["id"] and found["product"]["id"] == product.id
    assert found["level"] == "item" and found["serial"] == batch["serial_start"] + 1
    assert found["urls"]["digital_link"].endswith(f"/01/{GTIN}/21/{code}")

    forged = code[:-1] + ("0" if code[-1] != "0" else "1")
    assert client.get(f"/api/admin/codes/{forged}", headers=headers).get_json()["status"] == "forged"
    assert client.get("/api/admin/codes/ABC", headers=headers).get_json()["status"] == "malformed"
    never = codes.keyring().encode(batch["serial_end"] + 1000)
    assert client.get(f"/api/admin/codes/{never}", headers=headers).get_json()["status"] == "not_issued"

    voided = client.post(f"/api/admin/code-batches/{batch['id']}/void", headers=headers,
                         json={"reason": "misprinted roll"})
    assert voided.status_code == 200 and voided.get_json()["status"] == "voided"
    again = client.get(f"/api/admin/codes/{code}", headers=headers).get_json()
    assert again["status"] == "voided" and again["valid"]
    assert client.post(f"/api/admin/code-batches/{batch['id']}/void", headers=headers,
                       json={"reason": "twice"}).get_json()["code"] == "batch_already_voided"
    refused = client.post(f"/api/admin/code-batches/{batch['id']}/exports", headers=headers, json={})
    assert refused.status_code == 409 and refused.get_json()["code"] == "batch_voided"


def test_a_code_issued_before_a_key_rotation_still_resolves(client, auth, app, monkeypatch):
    headers = auth.as_admin()
    monkeypatch.setitem(app.config, "CODE_KEY_VERSION", 1)
    old = issue(client, headers, count=2).get_json()["batch"]
    monkeypatch.setitem(app.config, "CODE_KEY_VERSION", 0)
    new = issue(client, headers, count=2).get_json()["batch"]
    assert (old["key_version"], new["key_version"]) == (1, 2)
    old_code = codes.keyring().encode(old["serial_start"], version=1)
    assert client.get(f"/api/admin/codes/{old_code}", headers=headers).get_json()["status"] == "issued"


@pytest.mark.parametrize("body, code", [
    ({"product_id": 999_999}, "product_unknown"),
    ({"count": 0}, "count_out_of_range"),
    ({"count": -5}, "count_out_of_range"),
    ({"count": 1001}, "count_out_of_range"),
    ({"level": "crate"}, "level_invalid"),
    ({"level": "case", "hidden_code_digits": 6}, "hidden_code_invalid"),
    ({"hidden_code_digits": 5}, "hidden_code_invalid"),
    ({"hidden_code_digits": 9}, "hidden_code_invalid"),
    ({"count": "ten"}, "validation_failed"),
])
def test_bad_input_is_refused_and_nothing_is_written(client, auth, app, monkeypatch, body, code):
    monkeypatch.setitem(app.config, "CODE_BATCH_MAX", 1000)
    headers = auth.as_admin()
    before = counts_of_rows()
    response = issue(client, headers, **body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == code
    assert counts_of_rows() == before


def test_an_inactive_product_gets_no_codes(client, auth):
    product = make_product(gtin=None, status=Status.INACTIVE)
    response = issue(client, auth.as_admin(), product_id=product.id)
    assert response.status_code == 422 and response.get_json()["code"] == "product_inactive"


def test_marketers_and_auditors_read_batches_but_cannot_issue_export_or_download(client, auth):
    admin = auth.as_admin()
    body = issue(client, admin, count=5).get_json()
    batch_id, job_id = body["batch"]["id"], body["export"]["id"]
    for role in (Role.MARKETER, Role.AUDITOR, Role.FINANCE):
        headers = auth.headers_for(role)
        assert issue(client, headers).status_code == 403
        assert client.post(f"/api/admin/code-batches/{batch_id}/exports", json={}, headers=headers).status_code == 403
        assert client.get(f"/api/admin/code-batches/exports/{job_id}/download", headers=headers).status_code == 403
        assert client.post(f"/api/admin/code-batches/{batch_id}/void", json={"reason": "x"},
                           headers=headers).status_code == 403
        assert client.get(f"/api/admin/code-batches/{batch_id}/label-sheet", headers=headers).status_code == 403
        assert client.get("/api/admin/code-batches", headers=headers).status_code == 200
        assert client.get(f"/api/admin/code-batches/{batch_id}", headers=headers).status_code == 200
    assert client.get("/api/admin/code-batches").status_code == 401


def test_batches_are_listed_newest_first_with_filters(client, auth):
    headers = auth.as_admin()
    product = make_product()
    first = issue(client, headers, product_id=product.id, count=1).get_json()["batch"]
    second = issue(client, headers, level="pallet", count=1).get_json()["batch"]
    listed = client.get("/api/admin/code-batches", headers=headers)
    assert [b["id"] for b in listed.get_json()] == [second["id"], first["id"]]
    assert listed.headers["X-Pagination"]
    by_product = client.get(f"/api/admin/code-batches?product_id={product.id}", headers=headers).get_json()
    assert [b["id"] for b in by_product] == [first["id"]]
    pallets = client.get("/api/admin/code-batches?level=pallet&status=active", headers=headers).get_json()
    assert [b["id"] for b in pallets] == [second["id"]]
    detail = client.get(f"/api/admin/code-batches/{first['id']}", headers=headers).get_json()
    assert detail["exports"][0]["status"] == "done"


def test_batches_take_disjoint_serial_ranges_and_one_row_each(client, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "CODE_EXPORT_RUNNER", "worker")  # no need to export a million here
    headers = auth.as_admin()
    a = issue(client, headers, count=1_000_000).get_json()["batch"]
    b = issue(client, headers, count=7).get_json()["batch"]
    assert b["serial_start"] == a["serial_end"] + 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CodeBatch)) == 2


def test_pallet_codes_carry_an_sscc_when_a_company_prefix_is_set(client, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "GS1_COMPANY_PREFIX", "6912345")
    headers = auth.as_admin()
    first = issue(client, headers, level="pallet", count=3).get_json()
    second = issue(client, headers, level="pallet", count=2).get_json()
    rows = []
    for job in (first["export"], second["export"]):
        rows += csv_rows(zipfile.ZipFile(io.BytesIO(download(client, headers, job["id"]))))
    ssccs = [r["sscc"] for r in rows]
    assert len(set(ssccs)) == 5
    for sscc in ssccs:
        assert len(sscc) == 18 and sscc[1:8] == "6912345" and gs1.is_valid(sscc)
    assert rows[0]["digital_link_url"].endswith(f"/00/{ssccs[0]}")
    code = rows[3]["code"]
    resolved = client.get(f"/api/admin/codes/{code}", headers=headers).get_json()
    assert resolved["urls"]["sscc"] == ssccs[3]


def test_qr_images_of_a_code(client, auth):
    headers = auth.as_admin()
    batch = issue(client, headers, product_id=make_product().id, count=1).get_json()["batch"]
    code = codes.keyring().encode(batch["serial_start"])
    png = client.get(f"/api/admin/codes/{code}/qr.png", headers=auth.headers_for(Role.MARKETER))
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG\r\n\x1a\n")
    svg = client.get(f"/api/admin/codes/{code}/qr.svg?form=digital_link", headers=headers)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert ET.fromstring(svg.data).tag.endswith("svg")
    forged = code[:-1] + ("0" if code[-1] != "0" else "1")
    missing = client.get(f"/api/admin/codes/{forged}/qr.png", headers=headers)
    assert missing.status_code == 404 and missing.get_json()["code"] == "code_not_found"


def test_the_sample_label_sheet_shows_the_first_codes(client, auth):
    headers = auth.as_admin()
    batch = issue(client, headers, count=30).get_json()["batch"]
    page = client.get(f"/api/admin/code-batches/{batch['id']}/label-sheet", headers=headers)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.data.decode()
    assert html.count("<svg") == 24
    assert codes.keyring().encode(batch["serial_start"]) in html
    assert codes.keyring().encode(batch["serial_start"] + 24) not in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)
                             .where(AuditRecord.action == "code_batch.label_sheet")) == 1


def test_a_worker_runs_queued_exports_and_takes_the_password_from_redis(client, auth, app, monkeypatch):
    from app.extensions import redis

    monkeypatch.setitem(app.config, "CODE_EXPORT_RUNNER", "worker")
    headers = auth.as_admin()
    body = issue(client, headers, count=12, export_password="a worker password").get_json()
    job_id = body["export"]["id"]
    assert body["export"]["status"] == "queued"
    assert redis.ttl(codes.PASSWORD_KEY.format(job_id=job_id)) > 0
    assert client.get(f"/api/admin/code-batches/exports/{job_id}/download",
                      headers=headers).get_json()["code"] == "export_not_ready"

    assert export_jobs.work(once=True) == 1
    assert redis.get(codes.PASSWORD_KEY.format(job_id=job_id)) is None  # deleted on pickup
    assert export_jobs.work(once=True) == 0
    with pyzipper.AESZipFile(io.BytesIO(download(client, headers, job_id))) as archive:
        archive.setpassword(b"a worker password")
        assert len(csv_rows(archive)) == 12


def test_an_encrypted_export_whose_password_expired_fails_instead_of_writing_plain_codes(client, auth, app, monkeypatch):
    from app.extensions import redis

    monkeypatch.setitem(app.config, "CODE_EXPORT_RUNNER", "worker")
    headers = auth.as_admin()
    job_id = issue(client, headers, count=3, export_password="a worker password").get_json()["export"]["id"]
    redis.delete(codes.PASSWORD_KEY.format(job_id=job_id))
    export_jobs.work(once=True)
    job = client.get(f"/api/admin/code-batches/exports/{job_id}", headers=headers).get_json()
    assert job["status"] == "failed" and "password" in job["error"]


def test_a_job_is_claimed_by_one_runner_only(client, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "CODE_EXPORT_RUNNER", "worker")
    job_id = issue(client, auth.as_admin(), count=3).get_json()["export"]["id"]
    assert export_jobs.claim_export(job_id) == 1
    assert export_jobs.claim_export(job_id) is None
    assert export_jobs.run_export(job_id=job_id) is False


def _age_heartbeat(job_id, seconds):
    db.session.execute(sa.update(ExportJob).where(ExportJob.id == job_id)
                       .values(heartbeat_at=utcnow() - timedelta(seconds=seconds)))
    db.session.commit()


def test_a_job_whose_worker_died_is_taken_over_and_the_dead_runner_cannot_overwrite_it(
        client, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "CODE_EXPORT_RUNNER", "worker")
    headers = auth.as_admin()
    job_id = issue(client, headers, count=5).get_json()["export"]["id"]
    dead_attempt = export_jobs.claim_export(job_id)  # a worker claims it, then dies
    _age_heartbeat(job_id, app.config["CODE_EXPORT_STALE_SECONDS"] + 1)
    assert export_jobs.work(once=True) == 1
    job = client.get(f"/api/admin/code-batches/exports/{job_id}", headers=headers).get_json()
    assert job["status"] == "done" and job["rows_done"] == 5
    export_jobs._finish(job_id, dead_attempt, status=ExportStatus.FAILED, error="late")  # it wakes up
    job = client.get(f"/api/admin/code-batches/exports/{job_id}", headers=headers).get_json()
    assert job["status"] == "done"


def test_a_live_job_is_not_taken_over(client, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "CODE_EXPORT_RUNNER", "worker")
    job_id = issue(client, auth.as_admin(), count=5).get_json()["export"]["id"]
    export_jobs.claim_export(job_id)
    assert export_jobs.recover_stale_exports(stale_after=timedelta(seconds=60)) == 0
    assert db.session.get(ExportJob, job_id, populate_existing=True).status.value == "running"


def test_an_encrypted_job_whose_worker_died_fails_as_its_password_is_gone(client, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "CODE_EXPORT_RUNNER", "worker")
    job_id = issue(client, auth.as_admin(), count=5,
                   export_password="a worker password").get_json()["export"]["id"]
    export_jobs.claim_export(job_id)
    _age_heartbeat(job_id, 3600)
    assert export_jobs.recover_stale_exports(stale_after=timedelta(seconds=60)) == 1
    job = db.session.get(ExportJob, job_id, populate_existing=True)
    assert job.status.value == "failed" and "request a new export" in job.error


def test_the_thread_runner_finishes_in_the_background(client, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "CODE_EXPORT_RUNNER", "thread")
    headers = auth.as_admin()
    job_id = issue(client, headers, count=2000).get_json()["export"]["id"]
    for thread in threading.enumerate():
        if thread.name == f"code-export-{job_id}":
            thread.join(timeout=30)
    job = client.get(f"/api/admin/code-batches/exports/{job_id}", headers=headers).get_json()
    assert job["status"] == "done" and job["rows_done"] == 2000


def test_concurrent_issues_get_disjoint_serial_ranges(app, mariadb):
    from app.identity.service import Actor

    app.config["CODE_EXPORT_RUNNER"] = "worker"  # issue only; no export needed

    refused = []

    def issue_some():
        issued = []
        for _ in range(5):
            # As the endpoint does (app.http.retry_writes): run again when the database rolled it back.
            try:
                batch, _ = retried_transaction(lambda: codes.issue_batch(
                    actor=Actor.system("race"), product_id=None, level="item", count=1000))
            except OperationalError as error:
                if refused_as_busy(error):  # answered 503 busy: the client asks again later
                    refused.append(error)
                    continue
                raise
            issued.append((batch.serial_start, batch.serial_end, batch.batch_no))
        return issued

    try:
        issued, errors = results_and_errors(at_once(app, *[issue_some] * 8))
    finally:
        app.config["CODE_EXPORT_RUNNER"] = "inline"
    assert errors == [None] * 8, errors
    results = [r for some in issued for r in some]
    assert len(results) + len(refused) == 40 and len({no for _, _, no in results}) == len(results) > 0
    ranges = sorted(results)
    for (_, end, _), (start, _, _) in zip(ranges, ranges[1:]):
        assert start > end


def test_the_worker_command_runs_queued_exports(client, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "CODE_EXPORT_RUNNER", "worker")
    issue(client, auth.as_admin(), count=4)
    result = app.test_cli_runner().invoke(args=["codes", "work", "--once"])
    assert result.exit_code == 0, result.output
    assert "ran 1 export(s)" in result.output
    assert db.session.scalar(sa.select(ExportJob.status)).value == "done"
