"""Names on the network: whether an address keeps a server on this machine, and host names as a Host header
carries them. Low in the package, so that the watch config (monitor) and the servers (web) share them."""

from __future__ import annotations

import ipaddress
import re

TOKEN_ENV = "MASKWATCH_TOKEN"  # the environment variable of the token that serve and watch require beyond loopback
LOOPBACK_NAMES = {"localhost", "ip6-localhost"}
DNS_NAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*")


def is_loopback(host: str) -> bool:
    """Whether listening on `host` keeps the page and API on this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(text: str) -> str:
    """`text` as a Host header names it, without port: lower case, no trailing dot, IPv6 compressed and
    without brackets; ValueError if it is neither a DNS name nor an IP address."""
    name = text.strip().lower().removesuffix(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        if len(name) <= 253 and DNS_NAME.fullmatch(name):
            return name
    raise ValueError(f"{text!r} is not a host name or an IP address (give it without scheme, port or path)")
