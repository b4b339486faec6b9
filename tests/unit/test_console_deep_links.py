"""A console screen's URL keeps its filters and page in the query (ListPage writes them there): reloading it
or opening a link to it answers the index, not the API's 422 for unknown query parameters."""
from __future__ import annotations

import pytest

from tests.unit.test_console_serving import dist  # noqa: F401 - the fixture


@pytest.mark.parametrize("path", ["/console/operations/raw-material-lots?lot_no=RM-1&page=2",
                                  "/console/operations/recalls?new=raw&id=5", "/console/dashboard?utm_source=wechat"])
def test_a_screen_with_its_filters_in_the_url_opens(client, dist, path):  # noqa: F811
    answer = client.get(path)
    assert answer.status_code == 200, answer.get_json()
    assert b"<div id=app>" in answer.data
