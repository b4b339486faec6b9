"""RSA key pairs of the sandbox's WeChat Pay: the merchant's API key and WeChat Pay's own key."""
from __future__ import annotations

import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def generate() -> dict:
    """Fresh keys, made at start-up and never stored: the merchant's API key and WeChat Pay's own.

    The merchant signs requests with ``merchant_private_key`` (the sandbox verifies them with
    ``merchant_public_key``, as WeChat does with the certificate ``merchant_cert_serial_no``); the
    sandbox signs responses and callbacks with ``platform_private_key`` and names it by
    ``platform_public_key_id`` (WeChat Pay's "public key" mode, no platform certificates).
    """
    merchant_private, merchant_public = _key_pair()
    platform_private, platform_public = _key_pair()
    return {
        "merchant_private_key": merchant_private,
        "merchant_public_key": merchant_public,
        # A certificate serial is 40 hex digits on WeChat's side.
        "merchant_cert_serial_no": secrets.token_hex(20).upper(),
        "platform_private_key": platform_private,
        "platform_public_key": platform_public,
        "platform_public_key_id": "PUB_KEY_ID_" + secrets.token_hex(16).upper(),
    }
