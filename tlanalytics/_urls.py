"""Which base URLs may carry the key: http(s) only, no credentials, plain http only to loopback addresses.

Decided before any connection, by address: an IP literal is checked as is; a
``localhost`` name is resolved with :func:`socket.getaddrinfo` and every
address it gives must be loopback; any other name is refused over plain http
without being resolved.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from .errors import InsecureTransportError, InvalidArgumentError

__all__ = ["check_base_url", "is_loopback"]


def check_base_url(base_url):
    """Validate ``base_url`` and return it without a trailing slash.

    http/https only, a host, no credentials, no query or fragment, and plain
    http only to a loopback address (see :func:`is_loopback`): the key must
    never cross a network in clear. Messages never echo the URL: a key pasted
    into it must not be shown back.
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise InvalidArgumentError(
            f"The value for `base_url` must be an http(s) URL string, but {type(base_url).__name__} was passed.")
    unshown = "(the value is not shown, in case it holds a secret)"
    try:
        parts = urlsplit(base_url.strip())
        host, _ = parts.hostname, parts.port
    except ValueError:  # e.g. an unclosed or invalid [IPv6] host, a bad port
        raise InvalidArgumentError(f"The value for `base_url` must be a valid http(s) URL, but a value that does not "
                                   f"parse was passed {unshown}.") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidArgumentError("The value for `base_url` must start with https:// (or http:// for a loopback "
                                   f"host such as the simulator), but another value was passed {unshown}.")
    if not host:
        raise InvalidArgumentError(f"The value for `base_url` must name a host (and a valid port), "
                                   f"but a URL without one was passed {unshown}.")
    if parts.query or parts.fragment:
        raise InvalidArgumentError(f"The value for `base_url` must not have a query string or fragment, "
                                   f"but a URL with one was passed {unshown}; pass the key as `api_key`.")
    if parts.scheme == "http" and not is_loopback(host):
        raise InsecureTransportError(
            "Refusing to send the API key over plain http to a host that is not loopback: use an https:// base "
            "URL (plain http is only allowed to a loopback address such as 127.0.0.1 or ::1, or to localhost when "
            "it resolves only to loopback addresses, e.g. the simulator).")
    if parts.username is not None or parts.password is not None:
        raise InvalidArgumentError("The value for `base_url` must not contain credentials (user:password@); "
                                   "pass the key as `api_key` or set TWELVELABS_API_KEY instead.")
    return base_url.strip().rstrip("/")


def _loopback_literal(host):
    """True/False for an IP literal (loopback or not), None for a name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return address.is_loopback


def is_loopback(host):
    """True when ``host`` is a loopback address, or a localhost name that resolves only to loopback addresses.

    Decided by address, not by name: ``localhost``, ``localhost.`` and
    ``*.localhost`` are resolved with :func:`socket.getaddrinfo` (before any
    connection) and every address must be loopback. Other names are refused
    without being resolved: proving them loopback would need a query that may
    leave the machine.
    """
    host = host.strip("[]").lower()
    literal = _loopback_literal(host)
    if literal is not None:
        return literal
    name = host.rstrip(".")
    if name != "localhost" and not name.endswith(".localhost"):
        return False
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    addresses = {info[4][0].split("%")[0] for info in infos}
    return bool(addresses) and all(_loopback_literal(a) for a in addresses)
