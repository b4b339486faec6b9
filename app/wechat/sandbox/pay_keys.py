"""RSA key pairs of the sandbox's WeChat Pay: the merchant's API key and WeChat Pay's own key."""
from __future__ import annotations


def generate() -> dict:
    """PEM keys and ids the WeChat Pay part needs (filled in by the WeChat Pay work)."""
    return {}
