"""Which URLs may receive webhooks (no server-side request forgery).

A receiver URL is ``https``, names a host and no credentials, and its host resolves only to
public addresses: never private, loopback, link-local (the cloud metadata service at
169.254.169.254 among them), multicast, reserved, unspecified or shared (100.64.0.0/10)
addresses, nor IPv6 addresses that embed one of those (IPv4-mapped, -compatible, 6to4, NAT64,
Teredo). The check runs when an endpoint is registered and again at every delivery, on the
addresses the delivery then connects to (``sender``), so a DNS answer that changes in between
cannot turn a delivery inward.

Local development may allow loopback receivers (``http://127.0.0.1:<port>``, ``http://localhost``):
``allow_loopback`` (the local server's ``--allow-loopback-webhooks``). Plain ``http`` is allowed
then, and only to a host that resolves to loopback addresses alone.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not private, not public
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"https": 443, "http": 80}

Resolver = Callable[..., Sequence[tuple[Any, ...]]]


class UrlNotAllowedError(ValueError):
    """A URL that may not receive webhooks; the message says why (and names no secret)."""


@dataclass(frozen=True)
class Target:
    """A checked receiver: what to connect to (``addresses``, all allowed) and what to ask for."""

    scheme: str
    host: str  # the name, sent as Host and as TLS server name
    port: int
    path: str  # path and query
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        """The Host header: the name, and the port when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def parse(url: str, allow_loopback: bool = False) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a URL that may receive webhooks as written; resolving its
    host is ``resolve``'s. Raises ``UrlNotAllowedError``."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlNotAllowedError(f"url must be at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UrlNotAllowedError("url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # e.g. an unclosed or invalid IPv6 literal: "https://[::1/"
        raise UrlNotAllowedError("url is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (allow_loopback and scheme == "http"):
        raise UrlNotAllowedError("url must use https")
    if "@" in parts.netloc:
        raise UrlNotAllowedError("url must not contain credentials")
    if parts.fragment:
        raise UrlNotAllowedError("url must not have a fragment")
    host = (hostname or "").rstrip(".")
    if not host:
        raise UrlNotAllowedError("url must name a host")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise UrlNotAllowedError("url has an invalid port") from None
    if port == 0:
        raise UrlNotAllowedError("url has an invalid port")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port, path


def forbidden(address: str, allow_loopback: bool = False) -> str | None:
    """Why a webhook may not be sent to ``address`` (an IP address), or None if it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # (an IPv6 scope id is not part of the address)
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_unspecified:
        return "an unspecified address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            reason = forbidden(str(embedded), allow_loopback)
            if reason is not None:
                return reason
            if ip.ipv4_mapped is not None or ip in _NAT64:
                return None  # the IPv4 address it stands for is public
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.version == 4 and ip in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "a non-public address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or int(ip) >> 32 == 0:  # NAT64, or IPv4-compatible (::a.b.c.d)
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def resolve(url: str, allow_loopback: bool = False, resolver: Resolver | None = None) -> Target:
    """The checked target of ``url``: its host resolved now (by ``resolver``, the system's
    ``socket.getaddrinfo`` by default), every address allowed (one that is not would be a way in:
    the whole answer is refused). Raises ``UrlNotAllowedError``."""
    scheme, host, port, path = parse(url, allow_loopback)
    try:
        answers = (resolver or socket.getaddrinfo)(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UrlNotAllowedError(f"url host {host} cannot be resolved") from None
    addresses = tuple(dict.fromkeys(str(answer[4][0]) for answer in answers))
    if not addresses:
        raise UrlNotAllowedError(f"url host {host} cannot be resolved")
    for address in addresses:
        reason = forbidden(address, allow_loopback)
        if reason is not None:
            raise UrlNotAllowedError(f"url host {host} resolves to {reason} ({address}): webhooks go to public hosts")
    if scheme == "http" and not all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses):
        raise UrlNotAllowedError("url must use https")
    return Target(scheme, host, port, path, addresses)
