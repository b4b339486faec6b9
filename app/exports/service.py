"""Export use cases: write a list or a report to a file now, or queue it as a job; run, list, download
and expire the jobs. Knows nothing of HTTP: what a job exports comes from the replay function the
HTTP layer registers (app.exports.web.install)."""
from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app

from app import faults
from app.db import transaction, utcnow
from app.errors import DomainError, NotFound, ValidationFailed
from app.exports import sheet
from app.exports.models import DataExportJob, ExportFormat, ExportStatus
from app.extensions import db
from app.identity import service as identity
from app.identity.models import Role
from app.identity.service import Actor, audit
from app.platform import leases, logs, workers
from app.platform.clock import BUSINESS_TZ

log = logging.getLogger(__name__)

# How often a running job writes its progress (rows_done) and beats its heart.
PROGRESS_SECONDS = 1.0


class ExportNotFound(NotFound):
    code = "export_not_found"
    message = "No such export."


class ExportNotReady(DomainError):
    status = 409
    code = "export_not_ready"
    message = "The export is not finished (or it failed)."


class ExportExpired(DomainError):
    status = 410
    code = "export_expired"
    message = "The export's file was removed after its retention period; export the list again."


class ExportTooLarge(ValidationFailed):
    code = "export_too_large"


@dataclass(frozen=True)
class Source:
    """What an export writes: the rows, in chunks, and the schema that dumps them (its fields are the columns)."""

    schema: ma.Schema
    chunks: Callable[[], Iterator[list]]
    total: int | None  # None: not known before the rows are read

    def dumped_chunks(self) -> Iterator[list[dict]]:
        for chunk in self.chunks():
            yield self.schema.dump(chunk, many=True)


def inline_max_rows() -> int:
    return current_app.config["EXPORT_INLINE_MAX_ROWS"]


def max_rows(fmt: ExportFormat) -> int:
    """The most rows an export of this format may hold (an .xlsx sheet holds 1,048,575 below its header)."""
    limit = current_app.config["EXPORT_MAX_ROWS"]
    return min(limit, sheet.XLSX_MAX_ROWS) if fmt is ExportFormat.XLSX else limit


def check_size(fmt: ExportFormat, total: int | None) -> None:
    """Refuse before any work an export larger than its format (or EXPORT_MAX_ROWS) allows."""
    if total is not None and total > max_rows(fmt):
        hint = " (CSV holds more than an .xlsx sheet)" if fmt is ExportFormat.XLSX else ""
        raise ExportTooLarge(f"{total:,} rows match; an export holds at most {max_rows(fmt):,} {fmt.value} rows"
                             f"{hint}: narrow the filters.", errors={"query": {"format": [f"at most {max_rows(fmt)} rows"]}})


def write(*, source: Source, fmt: ExportFormat, path: Path, title: str,
          progress: Callable[[int], None] | None = None) -> sheet.Written:
    """Write the source's rows to path as .xlsx or CSV (TooManyRows past the format's limit)."""
    return sheet.write(fmt=sheet.Format(fmt.value), path=path, columns=sheet.columns_of(source.schema),
                       chunks=source.dumped_chunks(), title=title, max_rows=max_rows(fmt), progress=progress,
                       progress_seconds=PROGRESS_SECONDS)


def export_dir() -> Path:
    """Where export files go: beside the code packs (CODE_EXPORT_DIR), in lists/."""
    return Path(current_app.config["CODE_EXPORT_DIR"]) / "lists"


def _changes(*, fmt: ExportFormat, path: str, filters: dict, rows: int | None) -> dict:
    return {"list": [None, path], "format": [None, fmt.value], "filters": [None, filters], "rows": [None, rows]}


def write_now(*, actor: Actor, source: Source, fmt: ExportFormat, name: str, path: str, filters: dict) -> Path:
    """Write a small export to a temporary file for the response, and audit it (commits); the caller
    deletes the file once sent."""
    folder = export_dir() / "inline"
    folder.mkdir(parents=True, exist_ok=True)
    handle, target = tempfile.mkstemp(prefix=f"{name}-", suffix=f".{fmt.value}", dir=folder)
    os.close(handle)
    try:
        written = write(source=source, fmt=fmt, path=Path(target), title=name)
    except sheet.TooManyRows as error:
        Path(target).unlink(missing_ok=True)
        raise ExportTooLarge(f"This export has {error}: narrow the filters.") from error
    except BaseException:
        Path(target).unlink(missing_ok=True)
        raise
    with transaction():
        audit(actor, "export.download", None, _changes(fmt=fmt, path=path, filters=filters, rows=written.rows),
              entity_type="export", entity_id=name[:64])
    return Path(target)


def request_job(*, actor: Actor, fmt: ExportFormat, name: str, endpoint: str, path: str, query_string: str,
                view_args: dict, filters: dict, rows_total: int | None) -> DataExportJob:
    """Queue an export too large to answer in the response; audited with its filters."""
    job = DataExportJob(format=fmt, name=name[:100], endpoint=endpoint, path=path, query_string=query_string,
                        view_args=view_args, filters=filters, requested_by_id=actor.id, requested_by=actor.name,
                        rows_total=rows_total, status=ExportStatus.QUEUED, rows_done=0, attempt=0,
                        request_id=logs.current())
    db.session.add(job)
    db.session.flush()
    audit(actor, "export.request", job, _changes(fmt=fmt, path=path, filters=filters, rows=rows_total))
    return job


def _visible(actor: Actor):
    """Jobs an actor may see: their own; an admin sees every one."""
    return sa.true() if actor.role is Role.ADMIN else DataExportJob.requested_by_id == actor.id


def list_jobs(*, actor: Actor, status: ExportStatus | None = None) -> sa.Select:
    query = sa.select(DataExportJob).where(_visible(actor)).order_by(DataExportJob.id.desc())
    if status is not None:
        query = query.where(DataExportJob.status == status)
    return query


def get_job(*, actor: Actor, job_id: int) -> DataExportJob:
    """A job the actor may see; another user's job is simply not found (its existence is not told)."""
    job = db.session.scalar(sa.select(DataExportJob).where(DataExportJob.id == job_id, _visible(actor)))
    if job is None:
        raise ExportNotFound()
    return job


def expires_at(job: DataExportJob):
    return job.finished_at + timedelta(hours=current_app.config["EXPORT_RETENTION_HOURS"]) if job.finished_at else None


def download(*, actor: Actor, job_id: int) -> tuple[Path, str]:
    """Path and file name of a finished export of the actor's (an admin: anyone's); audited."""
    job = get_job(actor=actor, job_id=job_id)
    if job.status is ExportStatus.EXPIRED or (job.status is ExportStatus.DONE and expires_at(job) <= utcnow()):
        raise ExportExpired()
    if job.status is not ExportStatus.DONE or not job.file_path or not Path(job.file_path).is_file():
        raise ExportNotReady()
    audit(actor, "export.download", job, {"rows": [None, job.rows_done], "list": [None, job.path],
                                          "filters": [None, job.filters]})
    stamp = job.finished_at.astimezone(BUSINESS_TZ).strftime("%Y%m%d-%H%M")
    return Path(job.file_path), f"{job.name}-{stamp}.{job.format.value}"


# --- running jobs ----------------------------------------------------------------------------------

_JOBS = leases.Jobs(DataExportJob, queued=ExportStatus.QUEUED, running=ExportStatus.RUNNING, worker="exports")


def dispatch(*, job_id: int) -> None:
    """Run a committed job the configured way: inline, in a thread, or leave it to `flask exports work`."""
    leases.dispatch(lambda: run_job(job_id=job_id), setting="EXPORT_RUNNER", thread_name=f"export-{job_id}")


def claim(job_id: int) -> int | None:
    """Take a queued job (atomically: only one runner wins); its attempt number, or None; commits."""
    return _JOBS.claim(job_id, rows_done=0)


def run_job(*, job_id: int) -> bool:
    """Claim and perform a job; False when another runner had it already."""
    attempt = claim(job_id)
    if attempt is None:
        return False
    request_id = db.session.scalar(sa.select(DataExportJob.request_id).where(DataExportJob.id == job_id))
    db.session.rollback()
    with logs.bound(request_id):  # its log lines name the request that asked for it
        perform(job_id=job_id, attempt=attempt)
    return True


def requester_of(job: DataExportJob) -> Actor:
    """The job's requester as they are now: a user deactivated since cannot export any more."""
    user = identity.get_user(job.requested_by_id)
    if not user.is_active:
        raise RuntimeError("the user who asked for this export is no longer active")
    return Actor(kind="user", id=user.id, name=user.username, role=user.role)


def perform(*, job_id: int, attempt: int) -> None:
    """Write the file of a claimed job, reporting progress; a failure is recorded on the job."""
    job = db.session.get(DataExportJob, job_id, populate_existing=True)
    path = export_dir() / f"export-{job_id}-{attempt}.{job.format.value}"  # per attempt: never over a successor's
    fmt, name = job.format, job.name
    try:
        actor = requester_of(job)
        replay = current_app.extensions["exports.replay"]
        with replay(job, actor) as source:
            if source.total is not None:
                _update(job_id, attempt, rows_total=source.total)
            db.session.commit()  # end the read: no snapshot held open for the whole export
            written = write(source=source, fmt=fmt, path=path, title=name,
                            progress=lambda rows: _update(job_id, attempt, rows_done=rows))
    except Exception as exc:
        db.session.rollback()
        path.unlink(missing_ok=True)
        if faults.is_outage(exc):
            # Not the export's fault: it stays running, its heartbeat ages, and recover_stale queues it
            # again once the database or Redis is back (the worker's loop waits out the outage).
            raise
        log.exception("export %s failed", job_id)
        _JOBS.finish(job_id, attempt, status=ExportStatus.FAILED, error=str(exc)[:1000] or type(exc).__name__)
        return
    _JOBS.finish(job_id, attempt, status=ExportStatus.DONE, rows_done=written.rows, rows_total=written.rows,
            file_path=str(path), file_size=written.size)


def _update(job_id: int, attempt: int, **values) -> None:
    _JOBS.update(job_id, attempt, **values)


def recover_stale(*, stale_after: timedelta) -> int:
    """Jobs whose runner stopped beating (a crashed worker) are queued again; returns how many."""
    with transaction():
        requeued = _JOBS.requeue_stale(stale_after)
    if requeued:
        log.warning("exports whose worker stopped, queued again: %s", requeued)
    return requeued


def purge_expired() -> int:
    """Remove the files of finished exports older than EXPORT_RETENTION_HOURS (and of failed attempts);
    their jobs stay, marked expired. Returns how many files went."""
    cutoff = utcnow() - timedelta(hours=current_app.config["EXPORT_RETENTION_HOURS"])
    jobs = db.session.execute(sa.select(DataExportJob.id, DataExportJob.file_path).where(
        DataExportJob.status == ExportStatus.DONE, DataExportJob.finished_at <= cutoff)).all()
    db.session.rollback()
    for job_id, file_path in jobs:
        if file_path:
            Path(file_path).unlink(missing_ok=True)
        with transaction():
            db.session.execute(sa.update(DataExportJob).where(DataExportJob.id == job_id,
                                                              DataExportJob.status == ExportStatus.DONE)
                               .values(status=ExportStatus.EXPIRED, file_path=None)
                               .execution_options(synchronize_session=False))
    # Files of answers cut short (a process that died between writing and sending one).
    leftovers = export_dir() / "inline"
    if leftovers.is_dir():
        for path in leftovers.iterdir():
            if path.stat().st_mtime < cutoff.timestamp():
                path.unlink(missing_ok=True)
    return len(jobs)


def run_queued() -> int:
    """One step of the export worker: requeue jobs whose runner died, expire old files, then run the
    queued jobs, oldest first; returns how many ran."""
    recover_stale(stale_after=timedelta(seconds=current_app.config["EXPORT_STALE_SECONDS"]))
    purge_expired()
    return sum(run_job(job_id=job_id) for job_id in _JOBS.queued_ids())


def work(*, once: bool = False, poll_seconds: float = 2.0, stop: threading.Event | None = None) -> int:
    """The worker of `flask exports work` (app.platform.workers' loop over run_queued); returns jobs run."""
    done = 0

    def step() -> bool:
        nonlocal done
        done += run_queued()
        return False  # a look every poll_seconds

    workers.run(step, name="exports", idle_seconds=poll_seconds, once=once, stop=stop)
    return done
