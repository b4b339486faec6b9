"""The OpenAPI document's tags as people read them: a human name per blueprint, grouped by audience.

flask-smorest tags each operation with its blueprint's name (``admin_code_batches``); Swagger UI and
Redoc show tags as they are named, so the names here replace those in every operation (a spec plugin,
installed before any blueprint registers its views) and in the tag list, which keeps each blueprint's
description. The groups go out as ``x-tagGroups`` (Redoc's extension; Swagger UI ignores it and lists
the tags in the groups' order). A blueprint missing from AUDIENCES keeps its own name and no group,
which tests/http/test_service.py refuses: name it here when you add one.
"""
from __future__ import annotations

from apispec import BasePlugin

# (group, the prefix of its tags' names, {blueprint name: human name}), in the order /docs lists them.
AUDIENCES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("Back office", "Back office", {
        "admin_auth": "Sign-in",
        "admin_users": "Users and roles",
        "admin_api_keys": "API keys",
        "admin_audit": "Audit log",
        "admin_approvals": "Approvals (dual control)",
        "admin_products": "Products",
        "admin_factories": "Factories",
        "admin_production_lines": "Production lines",
        "admin_warehouses": "Warehouses",
        "admin_regions": "Regions",
        "admin_suppliers": "Suppliers",
        "admin_materials": "Raw materials",
        "admin_code_batches": "Code batches",
        "admin_codes": "Codes",
        "admin_production_lots": "Production lots",
        "admin_raw_material_lots": "Raw-material lots",
        "admin_line_sessions": "Line sessions",
        "admin_trace": "Trace",
        "admin_recalls": "Recalls",
        "admin_dealers": "Dealers",
        "admin_dealer_members": "Dealer members",
        "admin_stores": "Stores",
        "admin_invitations": "Invitations",
        "admin_orders": "Orders",
        "admin_shipments": "Shipments",
        "admin_stock": "Channel stock",
        "admin_diversion": "Diversion alerts",
        "admin_code_leak_alerts": "Code-leak alerts",
        "admin_rebate_rules": "Rebate rules",
        "admin_rebate_statements": "Rebate statements",
        "admin_campaigns": "Campaigns",
        "admin_claims": "Draws and redemptions",
        "admin_consumer_scans": "Consumer scans",
        "admin_consumer_profiles": "Consumer profiles and blacklist",
        "admin_points": "Points and points mall",
        "admin_reward_rules": "Clerk reward rules",
        "admin_courses": "Training courses",
        "admin_retail": "Sale scans and clerks",
        "admin_payouts": "Payouts",
        "admin_webhook_endpoints": "Webhook endpoints",
        "admin_webhook_deliveries": "Webhook deliveries",
        "admin_exports": "Exports",
    }),
    ("Reports", "Reports", {
        "admin_reports_overview": "Overview",
        "admin_reports_marketing": "Marketing",
        "admin_reports_operations": "Operations and channel",
    }),
    ("Machine API (ERP, line, warehouse)", "Machine API", {
        "integration_masterdata": "Master data",
        "integration_production": "Production",
        "integration_line": "Line sessions",
        "integration_warehouse": "Warehouse scans",
        "integration_orders": "Orders and events",
        "integration_recalls": "Recalls",
        "integration_epcis": "EPCIS 2.0",
    }),
    ("Mini-programs (dealer, clerk, consumer)", "Mini-program", {
        "mp_dealer_auth": "Dealer · Sign-in",
        "mp_dealer": "Dealer · Me and staff",
        "mp_dealer_channel": "Dealer · Orders, shipments and stock",
        "mp_dealer_rebates": "Dealer · Rebate statements",
        "mp_dealer_notices": "Dealer · Notices",
        "mp_clerk_auth": "Clerk · Sign-in",
        "mp_clerk": "Clerk · Me and the store's clerks",
        "mp_clerk_retail": "Clerk · Receipts, sales and training",
        "mp_clerk_payouts": "Clerk · Withdrawals",
        "mp_clerk_notices": "Clerk · Notices",
        "mp_consumer_auth": "Consumer · Sign-in",
        "mp_consumer": "Consumer · Me",
        "mp_consumer_profile": "Consumer · My record",
        "mp_consumer_scans": "Consumer · Scans",
        "mp_consumer_claims": "Consumer · Draws",
        "mp_consumer_points": "Consumer · Points",
        "mp_consumer_payouts": "Consumer · Payouts",
    }),
    ("Public", "Public", {
        "health": "Health probes",
        "label_pages": "Label pages",
        "gs1_resolver": "GS1 Digital Link resolver",
        "payouts_notify": "WeChat Pay notifications",
    }),
)

HUMAN_NAMES: dict[str, str] = {blueprint: f"{prefix} · {name}"
                               for _, prefix, names in AUDIENCES for blueprint, name in names.items()}


class HumanTagNames(BasePlugin):
    """Rename each operation's blueprint tag to its human name as the operation enters the spec."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            if isinstance(operation, dict) and operation.get("tags"):
                operation["tags"] = [HUMAN_NAMES.get(tag, tag) for tag in operation["tags"]]


def name_tags(spec, blueprints) -> None:
    """The spec's tag list (human names, each blueprint's description) and its x-tagGroups."""
    described = {blueprint.name: blueprint.description or "" for blueprint in blueprints}
    order = [blueprint for _, _, names in AUDIENCES for blueprint in names if blueprint in described]
    order += [blueprint for blueprint in described if blueprint not in HUMAN_NAMES]
    # The document's options are merged over what apispec gathered, so this list replaces the raw one.
    spec.options["tags"] = [{"name": HUMAN_NAMES.get(blueprint, blueprint), "description": described[blueprint]}
                            for blueprint in order]
    spec.options["x-tagGroups"] = [
        {"name": group, "tags": [HUMAN_NAMES[blueprint] for blueprint in names if blueprint in described]}
        for group, _, names in AUDIENCES
    ]
