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


class _Encrypted(Exception):
    """The key asked for a pass phrase: a server started unattended has nobody to type it."""


def _no_pass_phrase() -> bytes:
    raise _Encrypted


def tls_problem(cert_file: Path, key_file: Path) -> str | None:
    """Why this certificate and key cannot serve HTTPS (missing, unreadable, encrypted, not PEM, not a pair),
    or None: checked before the port is taken, so a bad pair is a one-line error, not a failure at the first
    client (nor a pass phrase prompt that waits forever)."""
    for path in (cert_file, key_file):
        if not path.is_file():
            return f"no such file {path}"
        try:
            path.open("rb").close()
        except OSError as error:
            return f"cannot read {path}: {error.strerror}"
    try:
        _server_context(cert_file, key_file)
    except _Encrypted:
        return (f"{key_file} is encrypted with a pass phrase: give the key without one (openssl pkey -in "
                f"{key_file.name} -out plain.key), readable only by the user that runs maskwatch")
    except ssl.SSLError as error:
        return f"{cert_file} and {key_file} are not a PEM certificate and its private key ({error.reason or error})"
    return None


def tls_expiry_warning(cert_file: Path, key_file: Path) -> str | None:
    """A line to log where the certificate has expired (or is not valid yet): browsers will refuse it, but
    a server may still be meant to start (a renewal on its way). Read by a TLS handshake in memory, with the
    certificate itself trusted, so only its dates can fail it."""
    server = _server_context(cert_file, key_file)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.load_verify_locations(cert_file)
    client.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_side = server.wrap_bio(to_server, to_client, server_side=True)
    client_side = client.wrap_bio(to_client, to_server)
    for _ in range(10):  # a TLS 1.3 handshake takes two round trips
        for side in (client_side, server_side):
            try:
                side.do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            except ssl.SSLCertVerificationError as error:
                if error.verify_code in (9, 10):  # X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED
                    return f"{cert_file}: {error.verify_message}: browsers will refuse the page until it is renewed"
                return None
            except ssl.SSLError:
                return None
            if side is client_side:
                return None
    return None


def _server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file, password=_no_pass_phrase)
    return context
