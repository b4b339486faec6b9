"""Where a webhook may post: public addresses only, unless WEBHOOK_ALLOW_PRIVATE says otherwise.

A webhook URL is typed by a back-office user and posted to by our servers, so it must not reach what
only our servers can reach (server-side request forgery): loopback, private networks, link-local
addresses and the cloud metadata service (169.254.169.254, fd00:ec2::254), multicast and reserved
ranges. The URL's host is checked at registration and again at each delivery after resolving it (a
name can be pointed elsewhere later), and the connection itself is checked against the address it
reached, so a name that resolves differently between the check and the connect gains nothing.
The embedded default and the tests deliver to a receiver on loopback: WEBHOOK_ALLOW_PRIVATE (true in
development and testing, false in production) lets them.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


class Refused(ValueError):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


def refusal(address: str) -> str | None:
    """Why an address may not be posted to (None: it may)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 form that carries an IPv4 address (mapped, 6to4, Teredo) is judged by that address:
        # 2002:7f00:1:: is 127.0.0.1 through a 6to4 relay.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    for reason, refused in (("the cloud metadata service", ip in METADATA), ("loopback", ip.is_loopback),
                            ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                            ("reserved", ip.is_reserved or ip.is_unspecified), ("private", ip.is_private),
                            ("not public", not ip.is_global)):
        if refused:
            return f"{ip} is {reason}"
    return None


def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to (the tests replace this; they never ask outside DNS)."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def check_url(url: str) -> None:
    """Refused unless every address the URL's host resolves to is public."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise Refused(f"{host} does not resolve ({exc})") from None
    for address in addresses:
        reason = refusal(address)
        if reason:
            raise Refused(f"{host} resolves to {reason}" if address != host else reason)


# The connection's own check: the address it actually reached, before a byte is sent.
class _PublicOnly:
    def _new_conn(self):
        sock = super()._new_conn()
        reason = refusal(sock.getpeername()[0])
        if reason:
            sock.close()
            raise urllib3.exceptions.NewConnectionError(self, f"refused: {reason}")
        return sock


class _HTTPConnection(_PublicOnly, HTTPConnection):
    pass


class _HTTPSConnection(_PublicOnly, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _PublicOnlyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def public_session() -> requests.Session:
    """A session whose connections reach public addresses only (and no proxy from the environment)."""
    session = requests.Session()
    session.trust_env = False
    for scheme in ("http://", "https://"):
        session.mount(scheme, _PublicOnlyAdapter())
    return session
