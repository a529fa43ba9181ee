"""Webhooks that answer a redirect, and webhooks behind HTTP Basic auth (issue 18): a redirect is never
followed (the signed event would go elsewhere as a bodiless GET) but is a failure, named in the log and
counted in /api/deliveries and /metrics, until the receiver answers 200; a user and password in the URL (or
the password from the environment) go as an Authorization header and never into a log, the API or metrics.
Real `watch` processes, real HTTP receivers on loopback, a real store."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import maskwatch.monitor.delivery as delivery
from maskwatch.core.events import Event
from maskwatch.monitor.config import ConfigError, WebhookConfig, load
from maskwatch.monitor.delivery import DeliveryFailed, WebhookDelivery
from maskwatch.store import EventStore
from tests.services import Watch, WebhookReceiver, door_clip, free_port, wait_until

REDIRECTS = (301, 302, 307, 308)
LOCATION_KEY = "loc-key-77"  # in the Location's query: must not be logged
URL_PASSWORD = "p@ss-url-5e1"  # written %-encoded in the URL
ENV_PASSWORD = "env-pass-2c9"


def event(at: datetime, person: int = 1, face: np.ndarray | None = None) -> Event:
    return Event("person_appeared", person, "door", 3, 0.3, at.isoformat(timespec="milliseconds"), "without_mask",
                 (1.0, 2.0, 30.0, 40.0), 0.9, face_image=face)


def stored_ids(store: Path) -> list[int]:
    with EventStore.open_existing(store) as events:
        return [e.id for e in events.events()]


def received_ids(hook: WebhookReceiver) -> list[int]:
    return [e["id"] for e in hook.events()]


def site(folder: Path, webhooks: str, top: str = "") -> tuple[Path, int]:
    """A config of one looped door camera and the given [[webhook]] tables; its port."""
    door_clip(folder / "door.mp4")
    port = free_port()
    config = folder / "site.toml"
    config.write_text(f'store = "events.db"\n{top}[http]\nport = {port}\n[[camera]]\nname = "door"\n'
                      f'source = "door.mp4"\nloop = true\n{webhooks}')
    return config, port


def metric(text: str, name: str) -> float:
    return float(re.search(rf"^{name}\{{target=\"webhook:1\"\}} (\S+)$", text, re.M).group(1))


@pytest.mark.parametrize("status", REDIRECTS)
def test_a_redirect_is_a_failure_naming_the_status_and_the_redacted_location(tmp_path: Path, status: int) -> None:
    elsewhere = WebhookReceiver()
    hook = WebhookReceiver(answers=[(status, {"Location": f"{elsewhere.url}?key={LOCATION_KEY}"})])
    target = WebhookDelivery(tmp_path / "events.db", WebhookConfig(hook.url, b"secret"), 0)
    try:
        with pytest.raises(DeliveryFailed) as failed:
            target.send(1, event(datetime.now().astimezone()))
        assert str(failed.value) == (f"HTTP {status}, a redirect to {elsewhere.url}; redirects are not followed: "
                                     "set the webhook's url to it")
        assert elsewhere.requests == [] and hook.received == []
        target.send(1, event(datetime.now().astimezone()))  # the receiver answers 200 now
        assert len(hook.received) == 1
    finally:
        hook.close()
        elsewhere.close()


def test_redirects_fail_visibly_until_the_receiver_answers_200_then_each_event_arrives_once(tmp_path: Path) -> None:
    elsewhere = WebhookReceiver()
    moved = {"Location": f"{elsewhere.url}?key={LOCATION_KEY}"}
    hook = WebhookReceiver(answers=[(status, moved) for status in REDIRECTS])
    config, port = site(tmp_path, f'[[webhook]]\nurl = "{hook.url}"\nsecret_env = "HOOK_SECRET"\n')
    watch = Watch(config, {"HOOK_SECRET": "hook-secret-3d"}, port)
    try:
        watch.wait_answering()
        failing = wait_until(lambda: next((d for d in watch.get("/api/deliveries").json() if d["failures"] >= 4),
                                          None), 60, "four redirects answered")
        metrics = watch.get("/metrics").text  # backoff: the fifth attempt comes 4 s after the fourth
        assert failing["delivered"] == 0 and failing["down"] and failing["backlog"] >= 1
        assert metric(metrics, "maskwatch_delivery_failures_total") >= 4
        assert metric(metrics, "maskwatch_events_delivered_total") == 0
        assert hook.received == [] and elsewhere.requests == []
        wait_until(lambda: hook.received, 30, "delivery once the receiver answers 200")
        assert watch.stop() == 0
    finally:
        if watch.process.poll() is None:
            watch.stop(signal.SIGKILL)
        hook.close()
        elsewhere.close()
    ids = received_ids(hook)
    assert ids == stored_ids(tmp_path / "events.db")  # every event, in order, each once
    assert elsewhere.requests == []
    log = watch.text()
    assert f"HTTP 301, a redirect to {elsewhere.url}; redirects are not followed" in log
    assert LOCATION_KEY not in log and "Traceback" not in log


def test_basic_auth_from_the_url_or_the_environment_delivers_and_no_secret_shows(tmp_path: Path) -> None:
    in_url = WebhookReceiver(authorization="Basic " + base64.b64encode(f"hookuser:{URL_PASSWORD}".encode()).decode())
    from_env = WebhookReceiver(authorization="Basic " + base64.b64encode(f"envuser:{ENV_PASSWORD}".encode()).decode())
    url = in_url.url.replace("://", f"://hookuser:{URL_PASSWORD.replace('@', '%40')}@")
    config, port = site(tmp_path, f'[[webhook]]\nurl = "{url}"\n'
                                  f'[[webhook]]\nurl = "{from_env.url.replace("://", "://envuser@")}"\n'
                                  'password_env = "HOOK_PASSWORD"\n', top="retain_days = 30\n")
    old = datetime.now().astimezone() - timedelta(days=40)
    with EventStore(tmp_path / "events.db") as store:  # old events, and a stray of a crash, for retention
        for person in range(3):
            store.add(event(old, person, np.full((40, 30, 3), 50 * person, np.uint8)))
    stray = tmp_path / "events.snapshots" / "run9-p1-f1.jpg"
    stray.write_bytes(b"\xff\xd8 a face whose row was never written")
    os.utime(stray, (old.timestamp(), old.timestamp()))
    env = {"HOOK_PASSWORD": ENV_PASSWORD}
    check = subprocess.run([sys.executable, "-m", "maskwatch", "watch", str(config), "--check"], capture_output=True,
                           text=True, timeout=60, env={**os.environ, **env})
    assert check.returncode == 0, check.stderr
    watch = Watch(config, env, port)
    try:
        watch.wait_answering()
        wait_until(lambda: len(in_url.received) >= 2 and len(from_env.received) >= 2, 60, "events at both receivers")
        shown = watch.get("/api/deliveries").text + watch.get("/metrics").text
        assert watch.stop() == 0
    finally:
        if watch.process.poll() is None:
            watch.stop(signal.SIGKILL)
        in_url.close()
        from_env.close()
    ids = stored_ids(tmp_path / "events.db")
    assert received_ids(in_url) == ids and received_ids(from_env) == ids
    assert {r[0] for r in in_url.requests + from_env.requests} == {"POST"}
    secrets = (URL_PASSWORD, URL_PASSWORD.replace("@", "%40"), ENV_PASSWORD,
               *(h["Authorization"].split()[1] for h in (in_url.received[0][0], from_env.received[0][0])),
               hashlib.sha256(url.encode()).hexdigest()[:16])  # the cursor's name: a guess could be checked on it
    log = watch.text()
    for text in (log, shown, check.stdout + check.stderr):
        assert not any(secret in text for secret in secrets)
    assert f"delivering to webhook #1 {in_url.url}" in log and "Name or service not known" not in log
    assert "retention: deleted 3 event(s) older than 30 days and 4 snapshot file(s) no kept event uses" in log
    assert not any((tmp_path / "events.snapshots").glob("run1-*"))  # run 1: the old events'


@pytest.mark.parametrize(("url", "problem"), [
    ("https://hooks.example.org/x", "'password_env' is the password of the URL's user: write it as https://USER@..."),
    ("https://u:pw@hooks.example.org/x", "give the password in 'url' or in 'password_env', not both"),
])
def test_password_env_needs_a_user_and_no_password_in_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             url: str, problem: str) -> None:
    monkeypatch.setenv("HOOK_PASSWORD", ENV_PASSWORD)
    config = tmp_path / "site.toml"
    config.write_text(f'store = "e.db"\n[[camera]]\nname = "a"\nsource = "0"\n[[webhook]]\nurl = "{url}"\n'
                      'password_env = "HOOK_PASSWORD"\n')
    with pytest.raises(ConfigError) as error:
        load(config)
    assert error.value.problems == [f"webhook #1: {problem}"] and "pw" not in str(error.value)


def test_a_target_that_stays_down_is_logged_again_with_its_backlog_and_last_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(delivery, "REMIND_EVERY_S", 0.5)
    monkeypatch.setattr(delivery, "MAX_RETRY_S", 0.3)
    store_path, nobody_listens = tmp_path / "events.db", free_port()
    EventStore(store_path).close()
    target = WebhookDelivery(store_path, WebhookConfig(f"http://u:hidden-pw@127.0.0.1:{nobody_listens}/hook"), 0)
    caplog.set_level(logging.WARNING, logger=delivery.__name__)
    target.start()
    try:
        with EventStore(store_path) as store:
            for person in range(3):
                store.add(event(datetime.now().astimezone(), person))
        wait_until(lambda: "still cannot deliver" in caplog.text, 10, "a reminder that the target is down")
    finally:
        target.stop()
    reminder = next(r.getMessage() for r in caplog.records if "still cannot deliver" in r.getMessage())
    assert "3 event(s) wait in the store" in reminder and "Connection refused" in reminder
    assert reminder.startswith(f"webhook #1 http://127.0.0.1:{nobody_listens}/hook: still cannot deliver")
    assert "hidden-pw" not in caplog.text


def test_the_store_keeps_nothing_a_webhook_password_could_be_guessed_from(tmp_path: Path) -> None:
    """A webhook's cursor is named by its URL less user, password and query; a store written by an older
    maskwatch (a hash of the whole URL) keeps its place under the new name, and the hash is gone."""
    store_path, nobody_listens = tmp_path / "events.db", free_port()
    url = f"http://u:hidden-pw@127.0.0.1:{nobody_listens}/hook?key=k3y"
    old_name = f"webhook:{hashlib.sha256(url.encode()).hexdigest()[:16]}"
    with EventStore(store_path) as store:
        for person in range(4):
            store.add(event(datetime.now().astimezone(), person))
        store.cursor(old_name)  # as an older maskwatch left it: all four delivered
        store.add(event(datetime.now().astimezone(), 9))
    target = WebhookDelivery(store_path, WebhookConfig(url), 0)
    target.start()
    target.stop()
    with EventStore(store_path) as store:
        assert store.backlog(target.target) == 1  # the fifth waits: the place in the outbox was kept
    dump = "\n".join(sqlite3.connect(store_path).iterdump())
    assert target.target == f"webhook:http://127.0.0.1:{nobody_listens}/hook" and target.target in dump
    assert old_name not in dump and "hidden-pw" not in dump and "k3y" not in dump
    twins = [f"https://hooks.example.org/x?channel={c}" for c in "ab"]
    assert [delivery.webhook_target(u, twins[:i]) for i, u in enumerate(twins)] == [
        "webhook:https://hooks.example.org/x", "webhook:https://hooks.example.org/x#2"]
