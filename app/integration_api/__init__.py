"""The machine HTTP API for ERP, line controllers and PDAs (API keys, scopes)."""
from app.integration_api import epcis, line, masterdata, orders, production, recalls, warehouse

BLUEPRINTS = (masterdata.blp, production.blp, line.blp, warehouse.blp, orders.blp, recalls.blp, epcis.blp)
