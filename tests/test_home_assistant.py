"""Home Assistant MQTT discovery with a real mosquitto: the retained config messages of each camera parse and
point at topics that `watch` updates; their templates, rendered with Jinja2 as Home Assistant renders them,
give the people in view, today's compliance, "someone non-compliant in view" and the availability; the
camera entity gets the live picture."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jinja2
import pytest

from tests.services import MOSQUITTO, Mosquitto, Subscriber, Watch, door_clip, free_port, wait_until

pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed (./install.sh --dev "
                                "installs it, as root with apt)")
JPEG_MAGIC = b"\xff\xd8\xff"


def render(template: str, payload: dict) -> str:
    return jinja2.Environment().from_string(template).render(value_json=payload).strip()


def test_cameras_appear_in_home_assistant_by_discovery(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    subscriber = Subscriber(broker.port, "ha-subscriber", topics=("homeassistant/#", "maskwatch/#"))
    door_clip(tmp_path / "door.mp4", seconds_in=6.0)
    port = free_port()
    (tmp_path / "site.toml").write_text(f'store = "events.db"\n[http]\nport = {port}\n[[camera]]\nname = "door"\n'
                                        f'source = "door.mp4"\nloop = true\n[mqtt]\nport = {broker.port}\n'
                                        '[[alert]]\nstate = "without_mask"\nafter_s = 1\n')
    site = Watch(tmp_path / "site.toml", port=port)
    try:
        site.wait_running()

        def messages(prefix: str) -> dict[str, object]:
            with subscriber.lock:
                return {topic: payload for topic, payload in subscriber.messages if topic.startswith(prefix)}

        configs = wait_until(lambda: len(found := messages("homeassistant/")) >= 10 and found, 30, "discovery configs")
        assert sorted(configs) == sorted([
            *(f"homeassistant/sensor/maskwatch_door/{entity}/config" for entity in (
                "in_view_with_mask", "in_view_without_mask", "in_view_mask_weared_incorrect", "in_view_unknown",
                "people_today", "compliance_today")),
            "homeassistant/binary_sensor/maskwatch_door/non_compliant_in_view/config",
            "homeassistant/binary_sensor/maskwatch_door/alerting/config",
            "homeassistant/event/maskwatch_door/events/config",
            "homeassistant/camera/maskwatch_door/picture/config"])
        ids = {config["unique_id"] for config in configs.values()}
        assert all("object_id" not in c and c["default_entity_id"] == f"{t.split('/')[1]}.{c['unique_id']}"
                   for t, c in configs.items())  # object_id is deprecated since Home Assistant 2025.10
        assert len(ids) == 10 and all(c["device"]["identifiers"] == ["maskwatch_door"] for c in configs.values())
        # every event is a Home Assistant event of its kind: an automation triggers on event_type "alert"
        events = configs["homeassistant/event/maskwatch_door/events/config"]
        assert events["state_topic"] == "maskwatch/door/events" and "alert" in events["event_types"]
        appeared = wait_until(lambda: next((p for t, p in subscriber.messages if t == "maskwatch/door/events"), None),
                              60, "an event")
        fired = json.loads(render(events["value_template"], appeared))
        assert fired["event_type"] == appeared["kind"] in events["event_types"] and fired["person"] == 1
        status_topic = "maskwatch/door/status"
        sensors = {t.split("/")[3]: c for t, c in configs.items() if "/sensor/" in t or "/binary_sensor/" in t}
        assert all(c["state_topic"] == status_topic and c["availability_topic"] == status_topic
                   for c in sensors.values())

        # the bare face is in view for 6 s of each 7.5 s loop: a status shows it, and the binary sensor is on
        def bare_in_view() -> dict | None:
            status = messages(status_topic).get(status_topic)
            return status if status and status.get("in_view", {}).get("without_mask") else None

        status = wait_until(bare_in_view, 60, "a status with the bare face in view")
        assert render(sensors["in_view_without_mask"]["value_template"], status) == "1"
        assert render(sensors["in_view_with_mask"]["value_template"], status) == "0"
        assert render(sensors["non_compliant_in_view"]["value_template"], status) == "ON"
        assert render(sensors["non_compliant_in_view"]["availability_template"], status) == "online"
        # the alert rule's own judgement: on once the bare face has been so for its after_s (1 s)
        alerting = wait_until(lambda: (s := messages(status_topic).get(status_topic)) and s.get("alerting") and s,
                              60, "a status with someone past the alert rule")
        assert render(sensors["alerting"]["value_template"], alerting) == "ON"
        assert render(sensors["alerting"]["value_template"], {**alerting, "alerting": 0}) == "OFF"
        # today's people come from the store a few seconds after the first person's events
        status = wait_until(lambda: (s := messages(status_topic).get(status_topic)) and s.get("today", {}).get(
            "people") and s, 20, "today's people in the status")
        assert int(render(sensors["people_today"]["value_template"], status)) >= 1
        assert render(sensors["compliance_today"]["value_template"], status) == "0.0"  # nobody wore a mask
        picture = configs["homeassistant/camera/maskwatch_door/picture/config"]["topic"]
        wait_until(lambda: isinstance(messages(picture).get(picture), bytes), 30, "the live picture")
        assert messages(picture)[picture].startswith(JPEG_MAGIC)
    finally:
        site.stop()
    offline = wait_until(lambda: (s := messages(status_topic).get(status_topic)) and s["state"] == "offline" and s,
                         30, "the offline status")
    assert render(sensors["in_view_unknown"]["availability_template"], offline) == "offline"
    assert offline.get("in_view") == {} and offline.get("alerting") == 0  # a camera that is off sees no one
    subscriber.close()
    broker.stop()


def test_a_short_bare_visit_reaches_home_assistant_at_once(tmp_path: Path) -> None:
    """The status goes out when who is in view changes (at most once a second), not only every 5 s: each 2 s
    bare visit shows in a status within a second or so of the person appearing."""
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    subscriber = Subscriber(broker.port, "ha-visits", topics=("maskwatch/#",))
    door_clip(tmp_path / "door.mp4", seconds_in=2.0, seconds_out=2.5)
    port = free_port()
    (tmp_path / "site.toml").write_text(f'store = "events.db"\n[http]\nport = {port}\n[[camera]]\nname = "door"\n'
                                        f'source = "door.mp4"\nloop = true\n[mqtt]\nport = {broker.port}\n')
    site = Watch(tmp_path / "site.toml", port=port)
    try:
        site.wait_running()

        def visits() -> list[float]:
            with subscriber.lock:
                return [at for (topic, payload), at in zip(subscriber.messages, subscriber.arrived, strict=True)
                        if topic == "maskwatch/door/events" and payload["kind"] == "person_appeared"]

        wait_until(lambda: len(visits()) >= 3, 90, "three visits")
        time.sleep(2.0)
        with subscriber.lock:
            bare = [at for (topic, payload), at in zip(subscriber.messages, subscriber.arrived, strict=True)
                    if topic == "maskwatch/door/status" and payload.get("in_view", {}).get("without_mask")]
        for appeared in visits()[:3]:
            assert any(appeared - 0.5 <= at <= appeared + 1.5 for at in bare), (appeared, bare)
    finally:
        site.stop()
        subscriber.close()
        broker.stop()
