"""HTTPS for `serve` and `watch` (uvicorn's own TLS), on loopback with a self-signed certificate made here."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

import maskwatch.commands
from tests.services import Serve, Watch, door_clip, free_port, self_signed, trusting

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def test_serve_answers_over_https_and_not_over_plain_http(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server = Serve(tmp_path / "serve.log", extra=["--cert-file", str(cert), "--key-file", str(key)], tls=cert)
    try:
        server.wait_ready()
        answer = httpx.get(f"{server.base}/healthz", verify=trusting(cert), timeout=10)
        assert answer.status_code == 200 and answer.json()["status"] == "ok"
        with pytest.raises(httpx.HTTPError):  # the same port does not speak plain HTTP
            httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10)
        with pytest.raises(httpx.ConnectError):  # and a client that does not trust the certificate refuses it
            httpx.get(f"{server.base}/healthz", timeout=10)
        assert f"open https://127.0.0.1:{server.port}/" in server.text()
    finally:
        server.stop()


def test_watch_serves_its_page_and_api_over_https(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)  # cert.pem and key.pem, named in the config below
    door_clip(tmp_path / "door.mp4")
    port = free_port()
    (tmp_path / "site.toml").write_text(
        f'store = "events.db"\n[http]\nport = {port}\ncert_file = "cert.pem"\nkey_file = "key.pem"\n'
        '[[camera]]\nname = "door"\nsource = "door.mp4"\nloop = true\n')
    site = Watch(tmp_path / "site.toml", port=port, tls=cert)
    try:
        site.wait_running()
        assert site.get("/").status_code == 200 and "door" in site.cameras()
        assert f"https://127.0.0.1:{port}/" in site.text()
    finally:
        assert site.stop() == 0


@pytest.mark.parametrize(("lines", "problem"), [
    ('cert_file = "cert.pem"', "'cert_file' and 'key_file' go together"),
    ('cert_file = "cert.pem"\nkey_file = "missing.pem"', "'key_file': no such file"),
    ('cert_file = "cert.pem"\nkey_file = "cert.pem"', "are not a PEM certificate and its private key"),
])
def test_check_refuses_a_certificate_it_cannot_serve(tmp_path: Path, capsys, lines: str, problem: str) -> None:
    self_signed(tmp_path)
    door_clip(tmp_path / "door.mp4")
    (tmp_path / "site.toml").write_text(f'store = "events.db"\n[http]\n{lines}\n'
                                        '[[camera]]\nname = "door"\nsource = "door.mp4"\n')
    assert maskwatch.commands.main(["watch", str(tmp_path / "site.toml"), "--check"]) == 2
    error = capsys.readouterr().err.strip()
    assert "site.toml: http: " in error and problem in error and len(error.splitlines()) == 1


def test_serve_refuses_a_key_without_its_certificate(tmp_path: Path, capsys) -> None:
    cert, _ = self_signed(tmp_path)
    assert maskwatch.commands.main(["serve", "--cert-file", str(cert)]) == 2
    assert "--cert-file and --key-file go together" in capsys.readouterr().err
    assert maskwatch.commands.main(["serve", "--cert-file", str(cert), "--key-file", str(cert)]) == 2
    assert "not a PEM certificate and its private key" in capsys.readouterr().err
