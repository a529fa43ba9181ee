"""Home Assistant MQTT discovery: each camera of `watch` announced as a device with entities, so that they
appear in Home Assistant without YAML.

For each camera, retained config messages under `<discovery prefix>/<component>/maskwatch_<camera>/<entity>/
config`: people in view by state, people today and compliance today (sensors read from the camera's
retained status topic), "someone non-compliant in view" and "someone past an alert rule" (its states, zones
and after_s; binary sensors), every event as an event entity
(its type: alert, mask_off ...; an automation triggers on it with no MQTT of its own), and the live picture
(an MQTT camera on `<prefix>/<camera>/picture`). Each is available while the status says the camera is not offline:
the broker's last will sets it offline if `watch` dies.
"""

from __future__ import annotations

import json

from maskwatch.core.classes import INCORRECT, UNKNOWN, WITH_MASK, WITHOUT_MASK
from maskwatch.core.events import EVENT_KINDS

# (entity, name, template over the status JSON, unit)
SENSORS = (
    ("in_view_with_mask", "People with a mask in view",
     f"{{{{ value_json.in_view.get('{WITH_MASK}', 0) }}}}", "people"),
    ("in_view_without_mask", "People without a mask in view",
     f"{{{{ value_json.in_view.get('{WITHOUT_MASK}', 0) }}}}", "people"),
    ("in_view_mask_weared_incorrect", "People with a mask worn wrong in view",
     f"{{{{ value_json.in_view.get('{INCORRECT}', 0) }}}}", "people"),
    ("in_view_unknown", "People not judged in view", f"{{{{ value_json.in_view.get('{UNKNOWN}', 0) }}}}", "people"),
    ("people_today", "People today", "{{ value_json.today.people if value_json.today is defined else 0 }}", "people"),
    ("compliance_today", "Compliance today",
     "{{ (value_json.today.compliant_at_last_sighting * 100) | round(1) if value_json.today is defined and "
     "value_json.today.compliant_at_last_sighting is not none else none }}", "%"),
)
NON_COMPLIANT_IN_VIEW = (f"{{{{ 'ON' if value_json.in_view.get('{WITHOUT_MASK}', 0) + "
                         f"value_json.in_view.get('{INCORRECT}', 0) > 0 else 'OFF' }}}}")
AVAILABLE = "{{ 'offline' if value_json.state == 'offline' else 'online' }}"
ALERTING = "{{ 'ON' if (value_json.alerting | default(0)) > 0 else 'OFF' }}"
# the payload of an event entity: its type, and what an automation may want of it as attributes
EVENT = ("{{ {'event_type': value_json.kind, 'person': value_json.person, 'state': value_json.state, "
         "'zones': value_json.zones, 'duration_s': value_json.duration_s, 'id': value_json.id} | tojson }}")


def node_id(camera: str) -> str:
    """The camera's id in Home Assistant: its device, and the prefix of its entities' ids (letters, digits, _)."""
    return f"maskwatch_{camera.replace('.', '_').replace('-', '_')}"


def discovery_messages(discovery_prefix: str, camera: str, status_topic: str, events_topic: str,
                       picture_topic: str | None) -> list[tuple[str, str]]:
    """(topic, JSON payload) of every retained config message of one camera; `picture_topic` None: no
    camera entity (the site keeps no faces)."""
    node = node_id(camera)
    device = {"identifiers": [node], "name": f"maskwatch {camera}", "manufacturer": "maskwatch",
              "model": "mask watch camera"}
    common = {"device": device, "availability_topic": status_topic, "availability_template": AVAILABLE}

    def config(component: str, entity: str, payload: dict) -> tuple[str, str]:
        # default_entity_id (domain.id) replaces object_id, deprecated by Home Assistant 2025.10
        body = {"unique_id": f"{node}_{entity}", "default_entity_id": f"{component}.{node}_{entity}", **common,
                **payload}
        return f"{discovery_prefix}/{component}/{node}/{entity}/config", json.dumps(body)

    messages = [config("sensor", entity, {"name": name, "state_topic": status_topic, "value_template": template,
                                          "unit_of_measurement": unit, "state_class": "measurement"})
                for entity, name, template, unit in SENSORS]
    messages.append(config("binary_sensor", "non_compliant_in_view", {
        "name": "Someone non-compliant in view", "state_topic": status_topic, "value_template": NON_COMPLIANT_IN_VIEW,
        "device_class": "problem"}))
    # the alert rules' own judgement (their states, zones and after_s): on while someone is past a rule
    messages.append(config("binary_sensor", "alerting", {
        "name": "Someone past an alert rule", "state_topic": status_topic, "value_template": ALERTING,
        "device_class": "problem"}))
    # each event (an alert, a mask off ...) as a Home Assistant event: an automation triggers on its type
    messages.append(config("event", "events", {"name": "Events", "state_topic": events_topic,
                                               "event_types": list(EVENT_KINDS), "value_template": EVENT}))
    if picture_topic is not None:
        messages.append(config("camera", "picture", {"name": "Live picture", "topic": picture_topic}))
    return messages
