"""A console screen's URL carries its filters (ListPage keeps them in the query) and the places that
link to one add their own (?status=held, ?tab=leaks, ?highlight=<export job>): reloading or opening such
a link answers the console's index, not a 422 about unknown query parameters."""
from __future__ import annotations

import pytest

from tests.unit.test_console_serving import dist  # noqa: F401 (fixture)


@pytest.mark.parametrize("url", [
    "/console/finance/payouts?status=held&page=2",
    "/console/channel/diversion?tab=leaks",
    "/console/finance/exports?highlight=17",
    "/console/login?next=%2Fconsole%2Fchannel%2Fdiversion%3Fstatus%3Dopen",
])
def test_a_console_link_with_a_query_answers_the_index(client, dist, url):  # noqa: F811
    answer = client.get(url)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert b"<div id=app>" in answer.data
    assert answer.headers["Cache-Control"] == "no-cache"


def test_the_api_still_refuses_unknown_query_parameters(client, auth, dist):  # noqa: F811
    from app.identity.models import Role

    answer = client.get("/api/admin/payouts", query_string={"tab": "x"}, headers=auth.headers_for(Role.FINANCE))
    assert answer.status_code == 422 and answer.json["errors"]["query"] == {"tab": ["Unknown field."]}
