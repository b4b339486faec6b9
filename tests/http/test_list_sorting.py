"""Every back-office list sorts by ?sort=column or ?sort=-column (descending): by a column that leads an
index of an entity list, by any column of a list of rows; its own order breaks ties; an export keeps
the sort; a column it can't sort by is a 422 naming those it can."""
from __future__ import annotations

import io

import openpyxl

from app.identity.models import Role
from tests.masterdata_factories import make_product


def skus(answer) -> list[str]:
    assert answer.status_code == 200, answer.get_json()
    return [row["sku"] for row in answer.get_json()]


def test_an_entity_list_sorts_by_an_indexed_column_both_ways(client, auth):
    for sku in ("B-2", "A-9", "C-1"):
        make_product(sku=sku)
    headers = auth.headers_for(Role.OPS)
    assert skus(client.get("/api/admin/products?sort=sku", headers=headers)) == ["A-9", "B-2", "C-1"]
    assert skus(client.get("/api/admin/products?sort=-sku", headers=headers)) == ["C-1", "B-2", "A-9"]
    # Paging follows the sort.
    second = client.get("/api/admin/products?sort=sku&page=2&page_size=2", headers=headers)
    assert skus(second) == ["C-1"]


def test_a_column_without_an_index_or_unknown_is_refused_with_the_sortable_ones(client, auth):
    make_product()
    for asked in ("name", "-description", "nothing"):
        answer = client.get(f"/api/admin/products?sort={asked}", headers=auth.headers_for(Role.OPS))
        assert answer.status_code == 422
        body = answer.get_json()
        assert body["code"] == "sort_invalid"
        assert "sku" in body["errors"]["sort"][0] and "name," not in body["errors"]["sort"][0]


def test_an_export_keeps_the_lists_sort(client, auth):
    for sku in ("B-2", "A-9", "C-1"):
        make_product(sku=sku)
    answer = client.get("/api/admin/products?sort=-sku&format=xlsx", headers=auth.headers_for(Role.OPS))
    assert answer.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(answer.data)).active
    header = [cell.value for cell in sheet[1]]
    column = next(i for i, name in enumerate(header) if name and "SKU" in str(name).upper())
    assert [row[column].value for row in sheet.iter_rows(min_row=2)] == ["C-1", "B-2", "A-9"]


def test_a_list_of_rows_sorts_by_any_column_it_selects(app):
    import sqlalchemy as sa

    from app.http import sortable_columns
    from app.stock.models import StockPosition

    rows = sa.select(StockPosition.holder_kind, sa.func.sum(StockPosition.quantity).label("quantity")) \
        .group_by(StockPosition.holder_kind)
    assert set(sortable_columns(rows)) == {"holder_kind", "quantity"}
