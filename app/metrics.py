"""/metrics for the operator's Prometheus: request rates and latencies, pool use (app.platform.request_metrics)
and the workers' backlogs, read when scraped (docs/operations.md, "Metrics and alerts", names the alerts).

Not public: it needs METRICS_TOKEN as a bearer token, and answers 404 while METRICS_TOKEN is not set. A
scrape with the database or Redis down still answers, quickly: what it could not read is left out and
`matong_dependency_up` says which one is down.
"""
from __future__ import annotations

import hmac
import logging

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from app.codes.models import ExportJob as CodeExportJob
from app.codes.models import ExportStatus as CodeExportStatus
from app.consumers import scan_log, scan_worker
from app.db import utcnow
from app.errors import error_response
from app.exports.models import DataExportJob, ExportStatus
from app.extensions import db, redis
from app.http import own_credential
from app.payouts.models import Payout, PayoutStatus
from app.payouts.worker import ACTIVE as PAYOUTS_WORKED
from app.platform import request_metrics
from app.webhooks.models import DeliveryStatus, WebhookDelivery

log = logging.getLogger(__name__)

blp = Blueprint("metrics", __name__)


@blp.route("/metrics", methods=["GET"])
@own_credential("METRICS_TOKEN as a bearer token")
def metrics():
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        return error_response(404, "not_found", "Metrics are off: set METRICS_TOKEN to serve them.")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return error_response(401, "metrics_token_invalid", "Send METRICS_TOKEN as a bearer token.",
                              headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    backlogs = CollectorRegistry()
    backlogs.register(Backlogs())
    body = generate_latest(request_metrics.registry()) + generate_latest(backlogs)
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


class Backlogs:
    """The workers' queues, counted at each scrape with indexed reads (one statement per queue)."""

    def collect(self):
        up = GaugeMetricFamily("matong_dependency_up", "Whether the scrape could read the dependency (1) or not (0)",
                               labels=["dependency"])
        database, redis_ok = self._database(), self._redis()
        up.add_metric(["database"], 0 if database is None else 1)
        up.add_metric(["redis"], 0 if redis_ok is None else 1)
        yield up
        yield from database or ()
        yield from redis_ok or ()

    def _database(self) -> list | None:
        now = utcnow()
        try:
            due = GaugeMetricFamily("matong_payouts_due", "Payouts the worker should work on now (pending, or "
                                    "waiting for their next attempt's time, which has come)")
            due.add_metric([], _count(Payout, Payout.status.in_(PAYOUTS_WORKED), Payout.next_attempt_at <= now))
            oldest = GaugeMetricFamily("matong_payouts_oldest_due_seconds",
                                       "How long the longest-waiting due payout has waited")
            first = db.session.scalar(sa.select(sa.func.min(Payout.next_attempt_at)).where(
                Payout.status.in_(PAYOUTS_WORKED), Payout.next_attempt_at <= now))
            oldest.add_metric([], (now - first).total_seconds() if first else 0)
            in_doubt = GaugeMetricFamily("matong_payouts_in_doubt",
                                         "Payouts WeChat Pay gave no definitive answer about (money out, asked again)")
            in_doubt.add_metric([], _count(Payout, Payout.status == PayoutStatus.IN_DOUBT))
            held = GaugeMetricFamily("matong_payouts_held", "Payouts held for a person's review")
            held.add_metric([], _count(Payout, Payout.status == PayoutStatus.HELD))
            webhooks = GaugeMetricFamily("matong_webhook_deliveries_pending",
                                         "Webhook deliveries not yet delivered nor given up")
            webhooks.add_metric([], _count(WebhookDelivery, WebhookDelivery.status == DeliveryStatus.PENDING))
            failed = GaugeMetricFamily("matong_webhook_deliveries_failed", "Webhook deliveries given up on")
            failed.add_metric([], _count(WebhookDelivery, WebhookDelivery.status == DeliveryStatus.FAILED))
            exports = GaugeMetricFamily("matong_export_jobs", "Export jobs queued or running, by kind",
                                        labels=["kind", "status"])
            for status in (ExportStatus.QUEUED, ExportStatus.RUNNING):
                exports.add_metric(["data", status.value], _count(DataExportJob, DataExportJob.status == status))
            for status in (CodeExportStatus.QUEUED, CodeExportStatus.RUNNING):
                exports.add_metric(["codes", status.value], _count(CodeExportJob, CodeExportJob.status == status))
            return [due, oldest, in_doubt, held, webhooks, failed, exports]
        except Exception as exc:  # noqa: BLE001 - a scrape reports the database down, it does not fail
            log.warning("metrics: database unreadable: %s", exc)
            db.session.rollback()
            return None
        finally:
            db.session.remove()

    def _redis(self) -> list | None:
        try:
            pipe = redis.pipeline(transaction=False)  # keys of several hash slots on a cluster
            pipe.xlen(scan_log.STREAM)
            pipe.xlen(scan_worker.LEGACY.stream)  # the release before the hash tags left it: drained, then gone
            pipe.llen(scan_worker.DEAD)
            length, legacy, dead = pipe.execute()
            length += legacy
            pending = sum(_pending(stream, scan_log.GROUP) for stream in (scan_log.STREAM, scan_worker.LEGACY.stream))
        except Exception as exc:  # noqa: BLE001 - as above, for Redis
            log.warning("metrics: redis unreadable: %s", exc)
            return None
        stream = GaugeMetricFamily("matong_scan_stream_length", "Consumer scans logged and not yet written to the database")
        stream.add_metric([], length)
        unwritten = GaugeMetricFamily("matong_scan_stream_pending",
                                      "Scans delivered to a writer and not yet acknowledged")
        unwritten.add_metric([], pending)
        letters = GaugeMetricFamily("matong_scan_dead_letters", "Scan records no write could take")
        letters.add_metric([], dead)
        return [stream, unwritten, letters]


def _count(model, *conditions) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions)) or 0


def _pending(stream: str, group: str) -> int:
    """Entries of the group delivered and not acknowledged (0 while the group does not exist yet)."""
    try:
        return int(redis.xpending(stream, group)["pending"])
    except Exception as exc:  # noqa: BLE001 - NOGROUP before the first writer starts
        if "NOGROUP" in str(exc):
            return 0
        raise

