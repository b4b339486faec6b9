"""gunicorn settings of the bare baseline app (bench/bare_app.py): config/gunicorn.py's, without its
worker hook. That hook disposes Matong's database engine in each new worker, which needs the app
registered with Matong's SQLAlchemy extension: the bare app is not, so its every worker failed to boot
and the benchmark's wrk found nothing listening ("unable to connect", exit status 1, at warm-up)."""
import runpy
from pathlib import Path

globals().update({name: value for name, value in runpy.run_path(
    str(Path(__file__).resolve().parent.parent / "config" / "gunicorn.py")).items()
    if not name.startswith("_") and name != "post_worker_init"})
