"""Issue 18, item 8: a real `serve` process and raw sockets on loopback. Clients that drop mid-upload leave
a debug line each, no traceback; connections that never send a whole request head, bodies that stall and
idle keep-alive connections are closed within the documented bounds."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from maskwatch.web.serve import HEAD_TIMEOUT_S, KEEP_ALIVE_S
from tests.services import Serve, wait_until

BODY_TIMEOUT_S = 2.0
SLACK_S = 3.0  # for a loaded 2-core machine
GONE = "the client went away before sending the whole body"


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    server = Serve(tmp_path_factory.mktemp("serve") / "serve.log", extra=["--body-timeout", str(BODY_TIMEOUT_S)])
    try:
        yield server.wait_ready()
    finally:
        server.stop()


def upload_head(length: int, kind: str = "image/jpeg") -> bytes:
    return (f"POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def half_upload(port: int, multipart: bool) -> None:
    """Half of a 200 KB body, raw or multipart, then close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        if multipart:
            sock.sendall(upload_head(200_000, "multipart/form-data; boundary=XX")
                         + b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
                         + bytes(100_000))
        else:
            sock.sendall(upload_head(200_000) + bytes(100_000))
        time.sleep(0.1)


def test_clients_that_drop_mid_upload_leave_no_traceback(serve: Serve) -> None:
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda i: half_upload(serve.port, multipart=i % 2 == 1), range(20)))
    wait_until(lambda: serve.text().count(GONE) >= 20, 20, "a debug line for each of the 20 dropped uploads")
    log = serve.text()
    assert "Traceback" not in log and "ERROR" not in log and "Exception in ASGI" not in log, log[-3000:]
    assert httpx.get(f"{serve.base}/healthz", timeout=10).status_code == 200


def until_closed(port: int, send_first: bytes, trickle: bytes = b"", limit_s: float = 30) -> tuple[float, bytes]:
    """Connect, send `send_first`, then a byte of `trickle` every 0.5 s; the seconds until the server closed
    the connection (inf if it had not after `limit_s`) and what it sent."""
    start = time.monotonic()
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(send_first)
        while time.monotonic() - start < limit_s:
            if select.select([sock], [], [], 0.5)[0]:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    return time.monotonic() - start, received
                received += chunk
            elif trickle:
                try:
                    sock.sendall(trickle[:1])
                except (BrokenPipeError, ConnectionResetError):
                    return time.monotonic() - start, received
                trickle = trickle[1:] or trickle
    return float("inf"), received


def test_idle_slow_and_stalled_connections_are_closed_in_time(serve: Serve) -> None:
    port = serve.port
    cases = {
        **{f"idle {i}": (b"", b"") for i in range(10)},  # connect and send nothing
        **{f"slow head {i}": (b"GET /docs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", b"a") for i in range(5)},
        **{f"stalled body {i}": (upload_head(10_000) + bytes(100), b"") for i in range(5)},
        "trickled body": (upload_head(10_000), b"\0"),
        "keep-alive": (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b""),
    }
    with ThreadPoolExecutor(len(cases)) as pool:
        results = dict(zip(cases, pool.map(lambda case: until_closed(port, *case), cases.values()), strict=True))
    for name, (seconds, received) in results.items():
        if name.startswith(("idle", "slow head")):
            assert HEAD_TIMEOUT_S - 1 < seconds < HEAD_TIMEOUT_S + SLACK_S and received == b"", (name, seconds)
        elif name == "keep-alive":
            assert received.startswith(b"HTTP/1.1 200") and seconds < KEEP_ALIVE_S + SLACK_S, (name, seconds)
        else:
            assert received.startswith(b"HTTP/1.1 408"), (name, received[:100])
            assert b"did not arrive within 2 s" in received
            assert BODY_TIMEOUT_S - 0.5 < seconds < BODY_TIMEOUT_S + SLACK_S, (name, seconds)
    assert httpx.get(f"{serve.base}/healthz", timeout=10).status_code == 200


def test_body_timeout_must_be_positive(tmp_path: Path) -> None:
    server = Serve(tmp_path / "serve.log", extra=["--body-timeout", "0"])
    assert server.process.wait(60) == 2 and "--body-timeout: must be positive" in server.text()
