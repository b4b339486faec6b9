"""Code pack export jobs: run inline, in a thread of the web process or by ``flask codes work``, and
downloaded under audit (``app.codes.service`` requests them).

Each claim of a job is an attempt with a heartbeat; a job whose runner stopped beating is queued again
(an encrypted one fails: its password went with the dead runner), and the dead runner can no longer
write to it.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from app.codes import export as packs
from app.codes.errors import BatchVoided, ExportNotFound, ExportNotReady
from app.codes.models import BatchStatus, ExportJob, ExportStatus
from app.codes.service import PASSWORD_KEY, keyring, pack_spec
from app.db import transaction, utcnow
from app.extensions import db, redis
from app.identity.service import Actor, audit
from app.platform import leases, workers

log = logging.getLogger(__name__)


def get_export(job_id: int) -> ExportJob:
    job = db.session.get(ExportJob, job_id)
    if job is None:
        raise ExportNotFound()
    return job


def check_downloadable(job: ExportJob) -> None:
    """A finished pack whose file is there, of a batch not voided (else ExportNotReady, BatchVoided)."""
    if job.status is not ExportStatus.DONE or not job.file_path or not Path(job.file_path).is_file():
        raise ExportNotReady()
    if job.batch.status is BatchStatus.VOIDED:
        raise BatchVoided()


def holds_hidden_codes(job: ExportJob) -> bool:
    """Whether the pack lists hidden codes (the scratch-off secrets that win prizes)."""
    return job.batch.hidden_code_digits is not None


def download_export(*, actor: Actor, job_id: int) -> tuple[Path, str]:
    """Path and file name of a finished code pack; every download is audited."""
    job = get_export(job_id)
    check_downloadable(job)
    audit(actor, "code_pack.download", job, {"sha256": [None, job.sha256], "batch_id": [None, job.batch_id]})
    return Path(job.file_path), f"codes-{job.batch.batch_no}-{job.id}.zip"


_JOBS = leases.Jobs(ExportJob, queued=ExportStatus.QUEUED, running=ExportStatus.RUNNING, worker="codes")


def dispatch_export(*, job_id: int, password: str | None = None) -> None:
    """Run a committed export job the configured way: inline, in a thread, or leave it to a worker."""
    leases.dispatch(lambda: run_export(job_id=job_id, password=password), setting="CODE_EXPORT_RUNNER",
                    thread_name=f"code-export-{job_id}")


def claim_export(job_id: int) -> int | None:
    """Take a queued job (atomically: only one runner wins); its attempt number, or None; commits."""
    return _JOBS.claim(job_id)


def run_export(*, job_id: int, password: str | None = None) -> bool:
    """Claim and perform an export job; False when another runner had it already."""
    attempt = claim_export(job_id)
    if attempt is None:
        return False
    perform_export(job_id=job_id, attempt=attempt, password=password)
    return True


def perform_export(*, job_id: int, attempt: int, password: str | None) -> None:
    """Write the code pack of a claimed job, reporting progress; a failure is recorded on the job."""
    job = db.session.get(ExportJob, job_id, populate_existing=True)
    spec, file_rows, encrypted = pack_spec(job.batch), job.file_rows, job.encrypted
    # A file per attempt: a runner presumed dead that wakes up never writes over its successor's.
    path = Path(current_app.config["CODE_EXPORT_DIR"]) / spec.batch_no / f"job-{job_id}-{attempt}.zip"
    db.session.commit()  # end the read: don't hold a snapshot open for the whole export
    try:
        if encrypted and password is None:
            raise RuntimeError("the password of this encrypted export is missing or expired; request it again")
        result = packs.write_pack(keyring=keyring(), spec=spec, path=path,
                                  file_rows=file_rows, password=password,
                                  progress=lambda rows: _set_progress(job_id, attempt, rows))
    except Exception as exc:
        log.exception("code pack export %s failed", job_id)
        _finish(job_id, attempt, status=ExportStatus.FAILED, error=str(exc)[:1000] or type(exc).__name__)
        return
    _finish(job_id, attempt, status=ExportStatus.DONE, rows_done=result.rows, file_path=str(path),
            file_size=result.size, sha256=result.sha256)


def _set_progress(job_id: int, attempt: int, rows: int) -> None:
    _JOBS.update(job_id, attempt, rows_done=rows)


def _finish(job_id: int, attempt: int, **values) -> None:
    _JOBS.finish(job_id, attempt, **values)


def recover_stale_exports(*, stale_after: timedelta) -> int:
    """Jobs whose runner stopped beating (a crashed worker): queue them again; returns how many.

    An encrypted job fails instead: its password was handed to the dead runner and is gone.
    """
    with transaction():
        requeued = _JOBS.requeue_stale(stale_after, ExportJob.encrypted.is_(False))
        failed = db.session.execute(
            sa.update(ExportJob).where(_JOBS.stale(stale_after), ExportJob.encrypted.is_(True))
            .values(status=ExportStatus.FAILED, finished_at=utcnow(),
                    error="the export stopped (its worker died); request a new export")
            .execution_options(synchronize_session=False)).rowcount
    if requeued or failed:
        log.warning("code pack exports whose worker stopped: %s queued again, %s failed", requeued, failed)
    return requeued + failed


def run_queued_exports() -> int:
    """One step of the export worker: requeue exports whose runner died, then run the queued ones,
    oldest first; returns how many ran."""
    recover_stale_exports(stale_after=timedelta(seconds=current_app.config["CODE_EXPORT_STALE_SECONDS"]))
    done = 0
    for job_id in _JOBS.queued_ids():
        attempt = claim_export(job_id)
        if attempt is None:
            continue
        # Taken only by the runner that claimed the job, and deleted as it is taken.
        password = redis.getdel(PASSWORD_KEY.format(job_id=job_id))
        perform_export(job_id=job_id, attempt=attempt, password=password.decode() if password else None)
        done += 1
    return done


def work(*, once: bool = False, poll_seconds: float = 2.0, stop: threading.Event | None = None) -> int:
    """The worker of `flask codes work` (app.platform.workers' loop over run_queued_exports); returns jobs run."""
    packs.tune_interpreter_for_exports()  # this process only exports
    done = 0

    def step() -> bool:
        nonlocal done
        done += run_queued_exports()
        return False  # a look every poll_seconds

    workers.run(step, name="codes", idle_seconds=poll_seconds, once=once, stop=stop)
    return done
