"""WSGI entry point: `gunicorn -c config/gunicorn.py wsgi:app`."""
from dotenv import load_dotenv

load_dotenv()

from app import create_app  # noqa: E402 - settings read the environment .env fills

app = create_app()
