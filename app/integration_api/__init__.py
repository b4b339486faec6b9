"""The machine HTTP API for ERP, line controllers and PDAs (API keys, scopes)."""
from app.integration_api import masterdata, production

BLUEPRINTS = (masterdata.blp, production.blp)
