"""A rebate statement's lines as a sheet (?format=xlsx|csv on the statement): what finance hands the dealer."""
from __future__ import annotations

from app.identity.models import Role
from tests.export_readers import csv_of, sheet_of
from tests.rebate_factories import shipment_to_store

STATEMENTS = "/api/admin/rebate-statements"


def computed_statement(client, auth, rebate_world) -> dict:
    dealer, store, product = rebate_world["dealer"], rebate_world["store"], rebate_world["product"]
    shipment_to_store(dealer.id, store.id, product.id, received=12)
    answer = client.post(STATEMENTS, json={"dealer_id": dealer.id, "period_start": "2026-03-01",
                                           "period_end": "2026-03-31"}, headers=auth.headers_for(Role.FINANCE))
    assert answer.status_code == 200, answer.json
    return answer.json


def test_a_statement_exports_its_lines_as_a_sheet_with_money_in_yuan(client, auth, rebate_world):
    statement = computed_statement(client, auth, rebate_world)
    url = f"{STATEMENTS}/{statement['id']}"

    sheet = sheet_of(client.get(url, query_string={"format": "xlsx"}, headers=auth.headers_for(Role.AUDITOR)))
    rows = list(sheet.iter_rows(values_only=True))
    # A column is headed with its Chinese label and its field's name ("金额 amount_fen").
    header, body = [str(h).split()[-1] for h in rows[0]], rows[1:]
    assert {"product_id", "quantity", "amount_fen", "rule_id", "basis"} <= set(header)
    line = statement["lines"][0]
    assert len(body) == len(statement["lines"]) == 1
    record = dict(zip(header, body[0]))
    assert (record["product_id"], record["quantity"], record["amount_fen"]) == (line["product_id"], 2, 10)  # 1000 fen = ¥10

    assert len(csv_of(client.get(url, query_string={"format": "csv"}, headers=auth.headers_for(Role.FINANCE)))) == 2
    # Without a format it is the statement as before; another format is a 422, not a 500.
    assert client.get(url, headers=auth.headers_for(Role.FINANCE)).json["lines"] == statement["lines"]
    bad = client.get(url, query_string={"format": "pdf"}, headers=auth.headers_for(Role.FINANCE))
    assert bad.status_code == 422 and bad.json["code"]


def test_a_missing_statement_has_no_sheet(client, auth, rebate_world):
    missing = client.get(f"{STATEMENTS}/999999", query_string={"format": "xlsx"}, headers=auth.headers_for(Role.FINANCE))
    assert missing.status_code == 404
