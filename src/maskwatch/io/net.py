"""Names on the network: whether an address keeps a server on this machine, and host names as a Host header
carries them. Low in the package, so that the watch config (monitor) and the servers (web) share them."""

from __future__ import annotations

import ipaddress
import re
import ssl
from pathlib import Path

from maskwatch.core.errors import InvalidInput

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
    raise InvalidInput(f"{text!r} is not a host name or an IP address (give it without scheme, port or path)")


def tls_problem(cert_file: Path, key_file: Path) -> str | None:
    """Why this certificate and key cannot serve HTTPS (missing, unreadable, not PEM, not a pair), or None:
    checked before the port is taken, so a bad pair is a one-line error, not a failure at the first client."""
    for path in (cert_file, key_file):
        if not path.is_file():
            return f"no such file {path}"
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_file, key_file)
    except ssl.SSLError as error:
        return f"{cert_file} and {key_file} are not a PEM certificate and its private key ({error.reason or error})"
    except OSError as error:
        return f"cannot read {error.filename}: {error.strerror}"
    return None
