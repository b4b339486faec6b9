"""What a hostile body costs the consumer endpoints before anything refuses it."""
from __future__ import annotations

import time


SCANS = "/api/consumer/scans"
MB = 1024 * 1024


def _arrays(prefix: bytes, size: int) -> bytes:
    return prefix + b', "x": [' + b"[1]," * (size // 4) + b"1]}"


def test_the_scan_takes_no_megabytes_of_body(client, mp, goods):  # noqa: F811
    """The scan's body is under 1 KiB: a signed-in consumer's 2 MiB of small arrays, which cost the worker
    seconds (the depth check, then the schema's json.loads) when the scan took MAX_CONTENT_LENGTH, is 413."""
    headers, _ = mp.sign_in("consumer")
    body = _arrays(b'{"code": "%s"' % goods["items"][0].encode(), 2 * MB)
    started = time.perf_counter()
    response = client.post(SCANS, data=body, headers={**headers, "Content-Type": "application/json"})
    took = time.perf_counter() - started
    assert response.status_code == 413, (response.status_code, response.json["code"], f"{took:.2f} s")
    assert took < 0.5, f"{took:.2f} s"  # refused by its size, before anything reads it


def test_an_anonymous_body_is_not_parsed_before_the_token_is_checked(client):
    """The body checks run before authentication: an anonymous 2 MiB body of small arrays is refused by its
    size on the consumer's small forms, not measured."""
    body = _arrays(b'{"hidden_code": "123456"', 2 * MB)
    started = time.perf_counter()
    response = client.post(f"{SCANS}/1/hidden-code", data=body, headers={"Content-Type": "application/json"})
    took = time.perf_counter() - started
    assert response.status_code == 413  # the step takes 4 KiB at most: refused before anyone is known
    assert took < 0.5, f"{took:.2f} s of CPU spent on an anonymous body before its 401"
