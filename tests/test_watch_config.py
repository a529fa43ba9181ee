"""`maskwatch watch --check`: every problem of a config on a line of its own, and the keys of the issue kept."""

from __future__ import annotations

from pathlib import Path

import pytest

import maskwatch.commands
from maskwatch.monitor.config import ConfigError, load, redact

ISSUE_EXAMPLE = """
store = "events.db"
[http]
host = "127.0.0.1"
port = 8080
[[camera]]
name = "entrance"
source = "rtsp://cam1.local/stream1"
loop = false
[[alert]]
state = "without_mask"
after_s = 3
cooldown_s = 60
[mqtt]
host = "127.0.0.1"
port = 1883
[[webhook]]
url = "https://hooks.example.org/maskwatch"
secret_env = "MASKWATCH_WEBHOOK_SECRET"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text)
    return path


def test_the_config_of_the_issue_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASKWATCH_WEBHOOK_SECRET", "s3cret")
    config = load(write(tmp_path, ISSUE_EXAMPLE))
    assert config.store == tmp_path / "events.db" and [c.name for c in config.cameras] == ["entrance"]
    assert config.cameras[0].preset == "fast" and not config.cameras[0].is_file
    rule, cameras = config.alerts[0]
    assert (rule.states, rule.after_s, rule.cooldown_s, cameras) == (("without_mask",), 3.0, 60.0, None)
    assert config.mqtt.port == 1883 and config.webhooks[0].secret == b"s3cret"
    assert "s3cret" not in repr(config) and "s3cret" not in config.describe()


def test_every_problem_is_reported_on_its_own_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("MASKWATCH_TOKEN", raising=False)
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    text = """
store = "events.db"
colour = "blue"
[http]
host = "0.0.0.0"
[[camera]]
name = "door"
source = "ftp://cam.local/x"
[[camera]]
name = "door"
source = 0
loop = true
[[camera]]
name = "bad name/with slash"
source = "missing.mp4"
preset = "quick"
[[alert]]
state = "maskless"
after_s = -1
cameras = ["garage"]
[[webhook]]
url = "hooks.example.org"
secret_env = "NOT_SET_ANYWHERE"
"""
    code = maskwatch.commands.main(["watch", str(write(tmp_path, text)), "--check"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    expected = ["unknown key 'colour'", "0.0.0.0, beyond this machine: set a token", "ftp://cam.local/x",
                "duplicate name", "'loop' replays a file", "'name' must be 1-64 letters", "no such file",
                "'preset' must be one of", "'state' must be one or a list", "'after_s' must be at least 0, got -1",
                "'cameras' names no configured camera: garage", "must start with http:// or https://",
                "NOT_SET_ANYWHERE, which is not set"]
    for text in expected:
        assert sum(text in line for line in lines) == 1, (text, lines)
    assert len(lines) == len(expected)


@pytest.mark.parametrize(("text", "problem"), [
    ("store = ", "not valid TOML"),
    ('store = "e.db"', "no camera"),
    ('[[camera]]\nname = "a"\nsource = "0"', "'store' is required"),
    ('store = "e.db"\n[[camera]]\nsource = "0"\n[mqtt]\nport = 70000', "'port' must be between 1 and 65535"),
    ('store = "e.db"\n[[camera]]\nname = "a"\nsource = "0"\n[mqtt]\ncert_file = "c.pem"', "no such file"),
    ('store = "e.db"\n[[camera]]\nname = "a.b"\nsource = "0"\n[[camera]]\nname = "a_b"\nsource = "1"\n[mqtt]',
     "cameras 'a.b' and 'a_b' would share the Home Assistant id 'maskwatch_a_b'"),
])
def test_one_line_errors(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load(write(tmp_path, text))


def test_check_says_ok_and_what_it_will_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "door.mp4").write_bytes(b"")
    path = write(tmp_path, 'store = "e.db"\n[[camera]]\nname = "door"\nsource = "door.mp4"\nloop = true\n')
    assert maskwatch.commands.main(["watch", str(path), "--check"]) == 0
    out = capsys.readouterr().out
    assert "OK: 1 camera(s): door" in out and "http://127.0.0.1:8080/" in out
    assert maskwatch.commands.main(["watch", str(tmp_path / "none.toml"), "--check"]) == 2


def test_urls_are_redacted_for_logs() -> None:
    assert redact("https://user:pw@hooks.example.org:8443/x?key=abc") == "https://hooks.example.org:8443/x"


def test_retention_at_start_deletes_old_events_and_their_snapshots(tmp_path: Path, astronaut_face) -> None:
    from datetime import datetime, timedelta

    from maskwatch.commands.watch import _retain
    from maskwatch.core.events import Event
    from maskwatch.store import EventStore

    (tmp_path / "door.mp4").write_bytes(b"")
    config = load(write(tmp_path, 'store = "e.db"\nretain_days = 7\n[[camera]]\nname = "door"\nsource = "door.mp4"\n'))
    now = datetime.now().astimezone()
    with EventStore(config.store) as store:
        for age, person in ((10, 1), (1, 2)):
            when = (now - timedelta(days=age)).isoformat(timespec="milliseconds")
            store.add(Event("person_appeared", person, "door", 0, 0.0, when, "without_mask", (0, 0, 9, 9), 0.9,
                            face_image=astronaut_face.copy()))
    _retain(config, config.retain_days)
    with EventStore.open_existing(config.store) as store:
        assert [e.person for e in store.events()] == [2]
    assert len(list((tmp_path / "e.snapshots").iterdir())) == 1


def test_the_config_in_watch_help_loads_with_its_optional_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """What `maskwatch watch --help` teaches is a config that loads, with the alternatives its comments name."""
    from maskwatch.commands.watch import DESCRIPTION
    from maskwatch.core.classes import NON_COMPLIANT

    monkeypatch.setenv("MASKWATCH_WEBHOOK_SECRET", "s3cret")
    example = DESCRIPTION.split("lists every key with its type, default and meaning):\n", 1)[1]
    config = load(write(tmp_path, example))
    assert config.model == Path("incorrect") and config.alerts[0][0].states == ("without_mask",)
    either = example.replace('state = "without_mask"', 'state = "non_compliant"')
    assert load(write(tmp_path, either)).alerts[0][0].states == NON_COMPLIANT


def test_names_that_share_a_home_assistant_id_pass_without_discovery(tmp_path: Path) -> None:
    """Only discovery maps names to one id: without MQTT, or with discovery off, `a.b` and `a_b` are two cameras."""
    cameras = '[[camera]]\nname = "a.b"\nsource = "0"\n[[camera]]\nname = "a_b"\nsource = "1"\n'
    assert len(load(write(tmp_path, 'store = "e.db"\n' + cameras)).cameras) == 2
    assert len(load(write(tmp_path, 'store = "e.db"\n' + cameras + "[mqtt]\ndiscovery = false\n")).cameras) == 2
