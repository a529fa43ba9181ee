"""The TOML file that `maskwatch watch` runs: cameras, the event store, alert rules, MQTT, webhooks, HTTP.

Every problem is found in one pass and reported on a line of its own (`watch --check`), naming where it
is (`camera "entrance": ...`). Relative paths (the store, a model, a file to loop) are relative to the
config file. Secrets are named by environment variable (`secret_env`, `password_env`, `token_env`) so that
the file itself can be shared; the MQTT password may also be written in it, for sites that prefer that.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from maskwatch.core.classes import NON_COMPLIANT, NON_COMPLIANT_ALIAS, STATES
from maskwatch.core.errors import InvalidInput
from maskwatch.core.zones import Zone, zone_problem
from maskwatch.io.net import TOKEN_ENV, host_name, is_loopback, tls_expiry_warning, tls_problem
from maskwatch.io.sources import STREAM_PREFIXES, redact
from maskwatch.monitor.home_assistant import node_id
from maskwatch.video.alerts import AlertRule
from maskwatch.video.analysis import AnalysisSettings
from maskwatch.video.clips import CLIP_KINDS, ClipSettings
from maskwatch.vision.detector import DEFAULT_DETECTOR
from maskwatch.vision.judge import DEFAULT_RULE
from maskwatch.vision.presets import INCORRECT_MODEL, PRESETS

log = logging.getLogger(__name__)

CAMERA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # a part of MQTT topics and URLs: no / + # space


REQUIRED = "required"
NUMBER = (int, float)
_TYPE_NAMES = {str: "string", int: "integer", bool: "bool", list: "list of strings"}


@dataclass(frozen=True)
class Key:
    """One key of the config, declared once: parsing reads its types, default and bounds, and docs/config.md
    is generated from it, so the checks, the defaults and the docs cannot disagree."""

    name: str
    types: type | tuple[type, ...]  # the TOML values it takes
    default: Any  # REQUIRED, or the value a config without the key gets (None: unset)
    meaning: str
    kind: str = ""  # its type in the docs where the TOML types do not say it (a path); else named from them
    low: float | None = None  # a number: the least value accepted (None: not checked) ...
    high: float = math.inf  # ... and the most, shown in the docs when there is one

    @property
    def accepted(self) -> tuple[type, ...]:
        return self.types if isinstance(self.types, tuple) else (self.types,)

    @property
    def doc_kind(self) -> str:
        kind = self.kind or ("number" if float in self.accepted else
                             " or ".join(_TYPE_NAMES[t] for t in self.accepted))
        return kind if self.high == math.inf else f"{kind} {self.low:g}-{self.high:g}"


SPEC: dict[str, tuple[Key, ...]] = {
    "": (
        Key("store", str, REQUIRED, "the SQLite event store and outbox; snapshots go to STORE.snapshots/ beside it",
            kind="path"),
        Key("retain_days", NUMBER, None, "delete events and snapshots older than this, at start and every hour",
            low=0.001),
        Key("snapshots", bool, True, "keep the clearest face of each person with their events"),
        Key("blur_snapshots", bool, False, "keep snapshots blurred to a few blocks (no face left to recognise)"),
        Key("model", str, None, "a .tflite classifier with labels.json beside it, or \"incorrect\": the opt-in "
            "three-class model (default: each camera's preset's model)", kind='path or "incorrect"'),
    ),
    "http": (
        Key("host", str, "127.0.0.1", "the address of the page, the API and /metrics; beyond loopback "
            "(127.0.0.0/8, ::1) every request but /healthz needs the token"),
        Key("port", int, 8080, "its port", low=1, high=65535),
        Key("token_env", str, TOKEN_ENV, "the environment variable holding the token "
            "(Authorization: Bearer TOKEN)"),
        Key("users_env", str, None, "an environment variable holding tokens that name users, as "
            "\"alice=TOKEN1,bob=TOKEN2\": each lets its user in, and the review page records who reviewed"),
        Key("allowed_hosts", list, [], "more names the page may be reached by (the Host header): on "
            "loopback, localhost, 127.0.0.1, ::1 and the bound address always are; beyond it, any name unless "
            "this lists some"),
        Key("cert_file", str, None, "PEM certificate: serve HTTPS instead of HTTP (with key_file)", kind="path"),
        Key("key_file", str, None, "its private key (PEM, unencrypted)", kind="path"),
    ),
    "camera": (
        Key("name", str, REQUIRED, "1-64 letters, digits, '.', '_' or '-': part of MQTT topics and URLs"),
        Key("source", (str, int), REQUIRED, "a camera index, an rtsp:// or http(s):// URL, or a video file"),
        Key("loop", bool, False, "replay a file forever at its own frame rate (demos, tests)"),
        Key("preset", str, "fast", "fast or accurate (detector input, threshold, classifier)"),
        Key("detect_every", int, None, "run the face detector on every Nth frame (default: the preset's)",
            low=1, high=30),
        Key("model", str, None, "this camera's classifier (default: the top-level model, else the preset's)",
            kind='path or "incorrect"'),
        Key("detector", str, DEFAULT_DETECTOR, "maskwatch (fine-tuned CenterFace), centerface, or a .onnx "
            "file from train-detector", kind="string or path"),
        Key("face_threshold", NUMBER, None, "least face score (default: the detector's own, else the preset's)",
            low=0.01, high=1.0),
        Key("min_face_px", NUMBER, DEFAULT_RULE.min_side, "faces smaller than this (long side, px) are `unknown`, "
            "not judged", low=1.0, high=10000.0),
        Key("zone", (list, dict), [], "[[camera.zone]] tables below it: named parts of the picture (events name "
            "them)", kind="tables"),
        Key("ignore_outside_zones", bool, False, "look only at faces inside a zone: others are not classified, "
            "counted or alerted on"),
        Key("motion_gate", bool, True, "look at a frame only when something moved or a face is being followed "
            "(and at least every 2 s): an empty camera costs almost nothing"),
    ),
    "camera.zone": (
        Key("name", str, REQUIRED, "1-64 letters, digits, '.', '_' or '-'"),
        Key("points", list, REQUIRED, "3 or more corners: fractions of the frame when every value is 0-1, else "
            "pixels; a face is in the zone when the centre of its box is", kind="list of [x, y]"),
    ),
    "learning": (
        Key("enabled", bool, False, "keep the unblurred face of each event in STORE.learning/ beside the store, for "
            "`maskwatch train --from-store` (personal data: served only with a token; off deletes them all)"),
        Key("retain_days", NUMBER, 30.0, "delete kept faces older than this, at start and every hour (each also "
            "goes with its event)", low=0.001),
    ),
    "clips": (
        Key("enabled", bool, False, "write a video clip of each event of the kinds below (H.264 MP4, in "
            "STORE.clips/ beside the store; needs snapshots; faces blurred with blur_snapshots)"),
        Key("before_s", NUMBER, 5.0, "seconds of video before the event", low=0.0, high=60.0),
        Key("after_s", NUMBER, 5.0, "seconds after it", low=0.0, high=120.0),
        Key("on", list, ["alert"], "the kinds of event that get a clip: alert, mask_off, mask_on, "
            "person_appeared"),
        Key("boxes", bool, True, "draw the faces' boxes, states and zones on the clip"),
    ),
    "alert": (
        Key("state", (str, list), REQUIRED, "with_mask, without_mask, mask_weared_incorrect, unknown, or "
            "non_compliant (without_mask or mask_weared_incorrect)", kind="string or list"),
        Key("after_s", NUMBER, 3.0, "seconds a person must be in that state before the alert", low=0.0),
        Key("cooldown_s", NUMBER, 60.0, "seconds before the same person alerts again while still so", low=0.0),
        Key("camera_cooldown_s", NUMBER, 0.0, "seconds between alerts of one camera (0: each person their own)",
            low=0.0),
        Key("cameras", list, None, "only these cameras (default: all)"),
        Key("zones", list, None, "only while the person's face is in one of these zones (default: anywhere)"),
    ),
    "mqtt": (
        Key("host", str, "127.0.0.1", "the broker"),
        Key("port", int, 1883, "its port", low=1, high=65535),
        Key("username", str, None, "user name for the broker"),
        Key("password", str, None, "its password, written in the config"),
        Key("password_env", str, None, "or the environment variable holding it"),
        Key("tls", bool, False, "connect with TLS (on by itself when ca_file is given)"),
        Key("ca_file", str, None, "CA certificate that signed the broker's", kind="path"),
        Key("cert_file", str, None, "client certificate (with key_file)", kind="path"),
        Key("key_file", str, None, "its private key", kind="path"),
        Key("topic_prefix", str, "maskwatch", "topics are PREFIX/CAMERA/events and PREFIX/CAMERA/status"),
        Key("keepalive_s", int, 30, "MQTT keepalive, and how long a publish waits for its PUBACK", low=5, high=3600),
        Key("discovery", bool, True, "announce each camera to Home Assistant (MQTT discovery): sensors, a "
            "binary sensor and the live picture appear there without YAML"),
        Key("discovery_prefix", str, "homeassistant", "Home Assistant's discovery prefix"),
    ),
    "webhook": (
        Key("url", str, REQUIRED, "http(s):// URL that each event is POSTed to; a USER:PASSWORD@ in it goes as "
            "HTTP Basic auth; redirects are not followed"),
        Key("secret_env", str, None, "environment variable holding the HMAC-SHA256 key of X-Maskwatch-Signature"),
        Key("password_env", str, None, "environment variable holding the password of the URL's USER@"),
        Key("timeout_s", NUMBER, 5.0, "seconds a POST may take before it counts as failed", low=0.1, high=120.0),
    ),
}
KEYS = {table: {key.name: key for key in keys} for table, keys in SPEC.items()}
SUBTABLES = {table for table in SPEC if table and "." not in table}  # the tables of the top level
TABLES = {"": "top level", "http": "[http]", "camera": "[[camera]] (one or more)",
          "camera.zone": "[[camera.zone]] (zero or more, each after the [[camera]] it belongs to)",
          "learning": "[learning]", "clips": "[clips]", "alert": "[[alert]]", "mqtt": "[mqtt]",
          "webhook": "[[webhook]]"}


def _toml(value: object) -> str:
    if value is REQUIRED:
        return "required"
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    return "[]" if value == [] else f"{value:g}" if isinstance(value, float) else str(value)


def reference_markdown() -> str:
    """Every key with its type, default and meaning: the body of docs/config.md."""
    parts = []
    for table, keys in SPEC.items():
        rows = "\n".join(f"| `{k.name}` | {k.doc_kind} | {_toml(k.default)} | {k.meaning} |" for k in keys)
        parts.append(f"### {TABLES[table]}\n\n| key | type | default | meaning |\n| --- | --- | --- | --- |\n{rows}\n")
    return "\n".join(parts)


class ConfigError(InvalidInput):
    """Everything wrong with a config file, one problem per line."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{path}: {problem}" for problem in problems))


@dataclass(frozen=True)
class CameraConfig:
    name: str
    source: str  # a camera index, a stream URL or a file
    loop: bool  # replay a file forever, at its own frame rate, as if it were a camera
    preset: str
    detect_every: int | None  # None: the preset's
    model: Path | None  # None: the site's model, else the preset's
    detector: str
    face_threshold: float | None  # None: the detector's own, else the preset's
    min_face_px: float
    zones: tuple[Zone, ...]
    ignore_outside_zones: bool
    motion_gate: bool

    @property
    def is_file(self) -> bool:
        return not self.source.isdigit() and not self.source.lower().startswith(STREAM_PREFIXES)

    def analysis(self, site_model: Path | None, snapshots: bool, learning: bool = False) -> AnalysisSettings:
        """How this camera's frames are looked at: its keys, the site's model where it names none; with
        `learning`, faces sampled for it."""
        return AnalysisSettings(preset=self.preset, model=self.model or site_model,
                                face_threshold=self.face_threshold, detector=self.detector,
                                detect_every=self.detect_every, snapshots=snapshots, zones=self.zones,
                                ignore_outside_zones=self.ignore_outside_zones, motion_gate=self.motion_gate,
                                min_face_px=self.min_face_px, learning=learning)


@dataclass(frozen=True)
class HttpConfig:
    host: str
    port: int
    token: str | None = field(repr=False)  # read from the environment variable `token_env`
    users: dict[str, str] = field(repr=False)  # user -> token, from `users_env`
    allowed_hosts: tuple[str, ...]  # more names for the Host header than the bind's own (see web.auth)
    cert_file: Path | None  # with key_file: HTTPS (uvicorn's own TLS)
    key_file: Path | None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.cert_file else 'http'}://{host}:{self.port}/"

    @property
    def local(self) -> bool:
        return is_loopback(self.host)


@dataclass(frozen=True)
class MqttConfig:
    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    tls: bool
    ca_file: Path | None
    cert_file: Path | None
    key_file: Path | None
    topic_prefix: str
    keepalive_s: int
    discovery: bool  # Home Assistant MQTT discovery
    discovery_prefix: str


@dataclass(frozen=True)
class WebhookConfig:
    url: str  # as configured: a user (and password) in it go as HTTP Basic auth (see delivery.basic_auth)
    secret: bytes | None = field(default=None, repr=False)  # never logged: see `__repr__`
    timeout_s: float = KEYS["webhook"]["timeout_s"].default
    password: str | None = field(default=None, repr=False)  # of the URL's user, from `password_env`

    def __repr__(self) -> str:
        return f"WebhookConfig(url={redact(self.url)!r}, signed={self.secret is not None})"


@dataclass(frozen=True)
class WatchConfig:
    path: Path
    store: Path
    cameras: list[CameraConfig]
    http: HttpConfig
    alerts: list[tuple[AlertRule, tuple[str, ...] | None]]  # rule, its cameras
    mqtt: MqttConfig | None
    webhooks: list[WebhookConfig]
    retain_days: float | None
    snapshots: bool
    blur_snapshots: bool
    model: Path | None
    clips: ClipSettings | None  # None: no clips
    learning_days: float | None = None  # [learning]: how long kept faces stay; None: learning is off

    def rules_for(self, camera: str) -> list[AlertRule]:
        return [rule for rule, cameras in self.alerts if cameras is None or camera in cameras]

    def describe(self) -> str:
        parts = [f"{len(self.cameras)} camera(s): {', '.join(c.name for c in self.cameras)}",
                 f"store {self.store}", f"{len(self.alerts)} alert rule(s)"]
        if self.mqtt:
            parts.append(f"MQTT {self.mqtt.host}:{self.mqtt.port}{' (TLS)' if self.mqtt.tls else ''}")
        parts.append(f"{len(self.webhooks)} webhook(s)")
        names = f" (also as {', '.join(self.http.allowed_hosts)})" if self.http.allowed_hosts else ""
        parts.append(f"page and API on {self.http.url}{names}"
                     f"{' (token required)' if self.http.token else ''}")
        return "; ".join(parts)


class _Reader:
    """Reads of one table as its keys' spec says, each failure added to the shared list of problems."""

    def __init__(self, table: dict, where: str, spec: str, problems: list[str]) -> None:
        self.table, self.where, self.problems, self.keys = table, where, problems, KEYS[spec]
        known = set(self.keys) | (SUBTABLES if not spec else set())
        for key in sorted(set(table) - known):
            self.problem(f"unknown key {key!r} (known: {', '.join(sorted(known))})")

    def problem(self, text: str) -> None:
        self.problems.append(f"{self.where}{text}")

    def get(self, name: str) -> Any:
        """The key's value; its default when it is left out or wrong (None for a required key)."""
        key = self.keys[name]
        default = None if key.default is REQUIRED else key.default
        if name not in self.table:
            if key.default is REQUIRED:
                self.problem(f"{name!r} is required")
            return default
        value, allowed = self.table[name], key.accepted
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):  # True is an int
            names = " or ".join(k.__name__ for k in allowed)
            self.problem(f"{name!r} must be {names.replace('str', 'a string').replace('float', 'a number')}, "
                         f"got {value!r}")
            return default
        if key.low is not None and not key.low <= value <= key.high:
            limits = f"at least {key.low:g}" if key.high == math.inf else f"between {key.low:g} and {key.high:g}"
            self.problem(f"{name!r} must be {limits}, got {value}")
            return default
        return value

    def secret(self, key: str) -> str | None:
        """The value of the environment variable that `key` names, which must be set."""
        name = self.get(key)
        if name is None:
            return None
        value = os.environ.get(name)
        if not value:
            self.problem(f"{key!r} names the environment variable {name}, which is not set")
        return value or None

    def path(self, key: str, base: Path) -> Path | None:
        """A file that must exist, relative to the config's folder."""
        text = self.get(key)
        if text is None:
            return None
        path = base / Path(text).expanduser()
        if not path.exists():
            self.problem(f"{key!r}: no such file {path}")
        return path


def _tables(data: dict, key: str, problems: list[str]) -> list[dict]:
    value = data.get(key, [])
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.append(f"{key!r} must be a table ([{key}]) or tables ([[{key}]])")
        return []
    return value


def _users(http: _Reader) -> dict[str, str]:
    """The named tokens of [http] users_env: NAME=TOKEN pairs separated by commas (the values never logged)."""
    text = http.secret("users_env")
    if text is None:
        return {}
    users: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        name, sep, token = pair.partition("=")
        if not sep or not CAMERA_NAME.fullmatch(name.strip()) or len(token.strip()) < 8:
            http.problem("'users_env' must hold NAME=TOKEN pairs separated by commas, each token of 8 characters "
                         "or more (the variable's value is not shown here)")
            return {}
        users[name.strip()] = token.strip()
    return users


def _host_names(values: list, http: _Reader) -> tuple[str, ...]:
    """[http] allowed_hosts: host names or IP addresses, normalised as Host headers are compared."""
    names = []
    for value in values:
        try:
            if not isinstance(value, str):
                raise ValueError(f"{value!r} is not a string")
            names.append(host_name(value))
        except ValueError as error:
            http.problem(f"'allowed_hosts': {error}")
    return tuple(names)


def _url_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes:
        return f"URL {redact(url) if parts.scheme else url!r} must start with {' or '.join(s + '://' for s in schemes)}"
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return f"URL {redact(url)!r} has a bad port"
    if not parts.hostname:
        return f"URL {redact(url)!r} has no host"
    return None


def _camera(table: dict, index: int, base: Path, problems: list[str]) -> CameraConfig | None:
    name = table.get("name")
    where = f"camera {name!r}: " if isinstance(name, str) else f"camera #{index + 1}: "
    r = _Reader(table, where, "camera", problems)
    name = r.get("name")
    if name is not None and not CAMERA_NAME.fullmatch(name):
        r.problem("'name' must be 1-64 letters, digits, '.', '_' or '-' (it is part of MQTT topics and URLs)")
    source, loop, preset = r.get("source"), r.get("loop"), r.get("preset")
    if preset not in PRESETS:
        r.problem(f"'preset' must be one of {', '.join(PRESETS)}, got {preset!r}")
    every = r.get("detect_every")
    vision = {"model": _model(table, r, base), "detector": _detector(r, base),
              "face_threshold": r.get("face_threshold"), "min_face_px": float(r.get("min_face_px")),
              "zones": _zones(r), "ignore_outside_zones": r.get("ignore_outside_zones"),
              "motion_gate": r.get("motion_gate")}
    if vision["ignore_outside_zones"] and not vision["zones"]:
        r.problem("'ignore_outside_zones' needs at least one [[camera.zone]]")
    if source is None or name is None:
        return None
    source = str(source)
    camera = CameraConfig(name, source, loop, preset, every, **vision)
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", source):
        if problem := _url_problem(source, ("rtsp", "http", "https")):
            r.problem(f"'source': {problem}")
            return None
    elif camera.is_file:
        path = base / Path(source).expanduser()
        if not path.is_file():
            r.problem(f"'source': no such file {path} (give a camera index, an rtsp:// or http(s):// URL, or a video)")
        camera = CameraConfig(name, str(path), loop, preset, every, **vision)
    if loop and not camera.is_file:
        r.problem("'loop' replays a file; this source is a camera or a stream")
    return camera


def _zones(camera: _Reader) -> tuple[Zone, ...]:
    """The [[camera.zone]] tables of a camera: each checked (a name, a polygon with some area), names unique."""
    tables = camera.get("zone")
    tables = [tables] if isinstance(tables, dict) else tables
    zones: list[Zone] = []
    for index, table in enumerate(tables):
        if not isinstance(table, dict):
            camera.problem("'zone' must be [[camera.zone]] tables")
            return ()
        r = _Reader(table, f"{camera.where}zone #{index + 1}: ", "camera.zone", camera.problems)
        name, points = r.get("name"), r.get("points")
        if name is None or points is None:
            continue
        if problem := zone_problem(name, points):
            r.problem(problem)
        elif name in {zone.name for zone in zones}:
            r.problem(f"duplicate zone name {name!r}")
        else:
            zones.append(Zone(name, tuple((float(x), float(y)) for x, y in points)))
    return tuple(zones)


def _model(table: dict, r: _Reader, base: Path) -> Path | None:
    """A classifier file, or the name of a shipped one (model = "incorrect": the three-class model)."""
    return Path(INCORRECT_MODEL) if table.get("model") == INCORRECT_MODEL else r.path("model", base)


def _detector(r: _Reader, base: Path) -> str:
    """"maskwatch", "centerface", or a detector file (relative to the config) that must be a CenterFace-format
    or YuNet .onnx."""
    name = r.get("detector")
    if name.lower() in (DEFAULT_DETECTOR, "centerface"):
        return name.lower()
    path = base / Path(name).expanduser()
    if path.suffix.lower() != ".onnx":
        r.problem(f"'detector' must be {DEFAULT_DETECTOR}, centerface or a .onnx file, got {name!r}")
    elif not path.is_file():
        r.problem(f"'detector': no such file {path}")
    return str(path)


def _alert(table: dict, index: int, cameras: list[CameraConfig],
           problems: list[str]) -> tuple[AlertRule, tuple | None] | None:
    r = _Reader(table, f"alert #{index + 1}: ", "alert", problems)
    state = r.get("state")
    named = [state] if isinstance(state, str) else state or []
    states = [s for name in named for s in (NON_COMPLIANT if name == NON_COMPLIANT_ALIAS else [name])]
    bad = [s for s in states if s not in STATES]
    if bad or (state is not None and not states):
        r.problem(f"'state' must be one or a list of {', '.join((*STATES, NON_COMPLIANT_ALIAS))}, got {state!r}")
    after, cooldown, camera_cooldown = r.get("after_s"), r.get("cooldown_s"), r.get("camera_cooldown_s")
    names = {camera.name for camera in cameras}
    chosen = r.get("cameras")
    if chosen is not None:
        unknown = [c for c in chosen if c not in names]
        if unknown:
            r.problem(f"'cameras' names no configured camera: {', '.join(map(str, unknown))}")
    zones = r.get("zones")
    if zones is not None:
        known = {zone.name for camera in cameras if chosen is None or camera.name in chosen for zone in camera.zones}
        unknown = [z for z in zones if z not in known]
        if unknown or not zones:
            r.problem(f"'zones' names no zone of {'its' if chosen else 'any'} camera: {', '.join(map(str, unknown))}"
                      if unknown else "'zones' is empty (leave it out to alert anywhere)")
    if state is None or bad or not states:
        return None
    rule = AlertRule(tuple(dict.fromkeys(states)), float(after), float(cooldown), float(camera_cooldown),
                     tuple(zones) if zones else None)
    cameras = chosen
    return rule, None if cameras is None else tuple(cameras)


def _clips(table: dict, snapshots: bool, blur: bool, problems: list[str]) -> ClipSettings | None:
    r = _Reader(table, "clips: ", "clips", problems)
    enabled, before, after, kinds = r.get("enabled"), r.get("before_s"), r.get("after_s"), r.get("on")
    bad = [kind for kind in kinds if kind not in CLIP_KINDS]
    if bad or not kinds:
        r.problem(f"'on' must list some of {', '.join(CLIP_KINDS)}, got {kinds!r}")
    if enabled and not snapshots:
        r.problem("clips show faces, and this site keeps none (snapshots = false): set blur_snapshots = true "
                  "instead to keep clips with every face blurred")
    if not enabled:
        return None
    return ClipSettings(float(before), float(after), tuple(kinds), r.get("boxes"), blur)


def _mqtt(table: dict, base: Path, problems: list[str]) -> MqttConfig:
    r = _Reader(table, "mqtt: ", "mqtt", problems)
    password = r.get("password")
    from_env = r.secret("password_env")
    if password and from_env:
        r.problem("give 'password' or 'password_env', not both")
    prefix, discovery_prefix = r.get("topic_prefix"), r.get("discovery_prefix")
    for key, value in (("topic_prefix", prefix), ("discovery_prefix", discovery_prefix)):
        if any(c in value for c in "+#") or not value.strip("/"):
            r.problem(f"'{key}' must be a topic without wildcards, got {value!r}")
    files = {key: r.path(key, base) for key in ("ca_file", "cert_file", "key_file")}
    if (files["cert_file"] is None) != (files["key_file"] is None):
        r.problem("'cert_file' and 'key_file' go together")
    return MqttConfig(r.get("host"), r.get("port"), r.get("username"), password or from_env,
                      r.get("tls") or files["ca_file"] is not None, **files, topic_prefix=prefix.strip("/"),
                      keepalive_s=r.get("keepalive_s"), discovery=r.get("discovery"),
                      discovery_prefix=discovery_prefix.strip("/"))


def _webhook(table: dict, index: int, problems: list[str]) -> WebhookConfig | None:
    r = _Reader(table, f"webhook #{index + 1}: ", "webhook", problems)
    url = r.get("url")
    secret = r.secret("secret_env")
    password = r.secret("password_env")
    timeout = r.get("timeout_s")
    if url is None:
        return None
    if problem := _url_problem(url, ("http", "https")):
        r.problem(problem)
        return None
    if "password_env" in table and urlsplit(url).username is None:
        r.problem(f"'password_env' is the password of the URL's user: write it as {urlsplit(url).scheme}://USER@...")
    elif "password_env" in table and urlsplit(url).password is not None:
        r.problem("give the password in 'url' or in 'password_env', not both")
    return WebhookConfig(url, secret.encode() if secret else None, float(timeout), password)


def _shared_node_ids(names: list[str]) -> list[str]:
    """Cameras whose names Home Assistant would give one id (`a.b` and `a_b`): one of them would have no
    entities."""
    by_id: dict[str, list[str]] = {}
    for name in names:
        by_id.setdefault(node_id(name), []).append(name)
    return [f"cameras {' and '.join(map(repr, same))} would share the Home Assistant id {node!r}: rename one, or "
            "set discovery = false in [mqtt]" for node, same in by_id.items() if len(same) > 1]


def parse(data: dict, path: Path) -> WatchConfig:
    """The config from parsed TOML; a ConfigError naming every problem."""
    base, problems = path.parent, []
    top = _Reader(data, "", "", problems)
    store, retain = top.get("store"), top.get("retain_days")
    model = _model(data, top, base)
    http = _Reader(data.get("http", {}), "http: ", "http", problems) if isinstance(data.get("http", {}), dict) else None
    if http is None:
        problems.append("'http' must be a table ([http])")
        http = _Reader({}, "http: ", "http", problems)
    host, port, token_env = http.get("host"), http.get("port"), http.get("token_env")
    token = os.environ.get(token_env) or None
    users = _users(http)
    if not is_loopback(host) and not token and not users:
        http.problem(f"the page and the API listen on {host}, beyond this machine: set a token in the environment "
                     f"variable {token_env} (clients send it as 'Authorization: Bearer TOKEN')")
    allowed = _host_names(http.get("allowed_hosts"), http)
    tls = {key: http.path(key, base) for key in ("cert_file", "key_file")}
    if (tls["cert_file"] is None) != (tls["key_file"] is None):
        http.problem("'cert_file' and 'key_file' go together")
    elif tls["cert_file"] and all(f.is_file() for f in tls.values()):
        if problem := tls_problem(**tls):
            http.problem(problem)
        elif warning := tls_expiry_warning(**tls):
            log.warning("%s: http: %s", path, warning)
    camera_tables = _tables(data, "camera", problems)
    if not camera_tables:
        problems.append("no camera: add a [[camera]] table with a name and a source")
    cameras = [c for i, t in enumerate(camera_tables) if (c := _camera(t, i, base, problems))]
    seen: set[str] = set()
    for name in (t.get("name") for t in camera_tables if isinstance(t.get("name"), str)):
        if name in seen:
            problems.append(f"camera {name!r}: duplicate name (each camera needs its own)")
        seen.add(name)
    alerts = [a for i, t in enumerate(_tables(data, "alert", problems)) if (a := _alert(t, i, cameras, problems))]
    mqtt_table = data.get("mqtt")
    mqtt = None
    if mqtt_table is not None:
        if isinstance(mqtt_table, dict):
            mqtt = _mqtt(mqtt_table, base, problems)
        else:
            problems.append("'mqtt' must be a table ([mqtt])")
    if mqtt is not None and mqtt.discovery:
        problems += _shared_node_ids([camera.name for camera in cameras])
    webhooks = [w for i, t in enumerate(_tables(data, "webhook", problems)) if (w := _webhook(t, i, problems))]
    snapshots, blur = top.get("snapshots"), top.get("blur_snapshots")
    clips_table = data.get("clips", {})
    clips = _clips(clips_table, snapshots, blur, problems) if isinstance(clips_table, dict) else None
    if not isinstance(clips_table, dict):
        problems.append("'clips' must be a table ([clips])")
    learning_table = data.get("learning", {})
    learning_days = None
    if isinstance(learning_table, dict):
        r = _Reader(learning_table, "learning: ", "learning", problems)
        days = r.get("retain_days")
        learning_days = float(days) if r.get("enabled") and days is not None else None
    else:
        problems.append("'learning' must be a table ([learning])")
    if problems:
        raise ConfigError(path, problems)
    return WatchConfig(path, base / Path(store).expanduser(), cameras,
                       HttpConfig(host, port, token, users, allowed, **tls),
                       alerts, mqtt, webhooks, retain, snapshots, blur, model, clips, learning_days)


def load(path: str | Path) -> WatchConfig:
    """Read and check the config file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, ["no such file"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(path, [f"not valid TOML ({error})"]) from None
    except (IsADirectoryError, PermissionError) as error:
        raise ConfigError(path, [f"cannot read it ({error.strerror})"]) from None
    return parse(data, path)
