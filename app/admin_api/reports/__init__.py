"""Reports in the back office (/api/admin/reports/...): figures read from the daily rollups."""
from app.admin_api.reports import marketing, operations, overview

BLUEPRINTS = (overview.blp, marketing.blp, operations.blp)
