"""WSGI entry point: `gunicorn -c config/gunicorn.py wsgi:app`."""
from dotenv import load_dotenv

load_dotenv()

from app import create_app  # noqa: E402 - settings read the environment .env fills
from app.platform.runtime import freeze_startup_heap  # noqa: E402

app = create_app()
freeze_startup_heap()
