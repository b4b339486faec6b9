"""An export job's `expires_at` reads like every other time of the API (ISO 8601 in UTC), so the console's
exports screen can show when the file goes; it was an HTTP date ("Fri, 04 Dec 2026 16:56:13 GMT")."""
from __future__ import annotations

from datetime import datetime, timedelta


def test_an_export_jobs_expiry_is_an_iso_time_its_retention_after_it_finished(
        client, auth, app, payouts, small_inline_limit):
    headers = auth.as_admin()
    job = client.get("/api/admin/payouts?format=xlsx", headers=headers).get_json()
    for answer in (job, client.get(f"/api/admin/exports/{job['id']}", headers=headers).get_json(),
                   client.get("/api/admin/exports", headers=headers).get_json()[0]):
        expires, finished = datetime.fromisoformat(answer["expires_at"]), datetime.fromisoformat(answer["finished_at"])
        assert expires.utcoffset() == timedelta(0)
        assert expires - finished == timedelta(hours=app.config["EXPORT_RETENTION_HOURS"])


def test_a_job_not_finished_has_no_expiry(client, auth, payouts, small_inline_limit, app, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_RUNNER", "worker")  # queued: nobody runs it in the test
    job = client.get("/api/admin/payouts?format=csv", headers=auth.as_admin()).get_json()
    assert job["status"] == "queued" and job["expires_at"] is None
