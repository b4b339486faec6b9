"""The machine HTTP API for ERP, line controllers and PDAs (API keys, scopes)."""

BLUEPRINTS = ()
