"""HTTPS for `serve` and `watch` (uvicorn's own TLS), on loopback with a self-signed certificate made here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import httpx
import pytest

import maskwatch.commands
from maskwatch.io.net import tls_expiry_warning, tls_problem
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


def _expired(folder: Path) -> tuple[Path, Path]:
    """A certificate valid for one day in 2020 and its key (openssl ca, which sets the dates)."""
    _, key = self_signed(folder)
    run = partial(subprocess.run, check=True, capture_output=True, timeout=60, cwd=folder)
    run(["openssl", "req", "-new", "-key", str(key), "-subj", "/CN=localhost", "-out", "req.csr"])
    (folder / "index.txt").write_text("")
    (folder / "serial").write_text("01\n")
    (folder / "ca.cnf").write_text("[ca]\ndefault_ca = here\n[here]\ndatabase = index.txt\nnew_certs_dir = .\n"
                                   "serial = serial\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n")
    run(["openssl", "ca", "-selfsign", "-keyfile", str(key), "-in", "req.csr", "-startdate", "20200101000000Z",
         "-enddate", "20200102000000Z", "-config", "ca.cnf", "-batch", "-out", "expired.pem"])
    return folder / "expired.pem", key


def test_an_expired_certificate_is_served_with_a_warning(tmp_path: Path) -> None:
    cert, key = _expired(tmp_path)
    door_clip(tmp_path / "door.mp4")
    (tmp_path / "site.toml").write_text(f'store = "events.db"\n[http]\ncert_file = "{cert.name}"\nkey_file = '
                                        f'"{key.name}"\n[[camera]]\nname = "door"\nsource = "door.mp4"\n')
    done = subprocess.run([sys.executable, "-m", "maskwatch", "watch", str(tmp_path / "site.toml"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and ": OK: " in done.stdout
    assert "expired.pem: certificate has expired: browsers will refuse the page" in done.stderr
    (tmp_path / "fresh").mkdir()
    fresh, fresh_key = self_signed(tmp_path / "fresh")
    assert tls_expiry_warning(fresh, fresh_key) is None


def test_an_encrypted_key_is_refused_without_asking_for_its_pass_phrase(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-passout", "pass:secret"],
                   check=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    # a prompt would read the terminal and wait forever; in a process without one it must not be asked at all
    done = subprocess.run([sys.executable, "-m", "maskwatch", "serve", "--cert-file", str(cert), "--key-file",
                           str(key)], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          start_new_session=True)
    assert done.returncode == 2 and "is encrypted with a pass phrase" in done.stderr
    assert "Enter PEM pass phrase" not in done.stdout + done.stderr


def test_an_unreadable_key_names_its_file(tmp_path: Path, monkeypatch) -> None:
    """Said of the file (it was 'cannot read None'). As root every file is readable, so the refusal to open
    it is the operating system's answer played back."""
    cert, key = self_signed(tmp_path)
    opened = Path.open

    def refuse(path: Path, *args, **kwargs):
        if path == key:
            raise PermissionError(13, "Permission denied", str(path))
        return opened(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    assert tls_problem(cert, key) == f"cannot read {key}: Permission denied"
