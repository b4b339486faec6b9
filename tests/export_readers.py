"""Exports for tests: an export answered in the response, read back as a sheet or as CSV rows."""
from __future__ import annotations

import csv
import io

import openpyxl

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sheet_of(response):
    """The .xlsx answer's first sheet."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == XLSX
    return openpyxl.load_workbook(io.BytesIO(response.data)).active


def csv_of(response) -> list[list[str]]:
    """The CSV answer's rows, header first."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.data.startswith("\ufeff".encode())  # UTF-8 with a BOM: Excel shows the Chinese
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
