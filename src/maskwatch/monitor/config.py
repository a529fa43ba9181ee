"""The TOML file that `maskwatch watch` runs: cameras, the event store, alert rules, MQTT, webhooks, HTTP.

Every problem is found in one pass and reported on a line of its own (`watch --check`), naming where it
is (`camera "entrance": ...`). Relative paths (the store, a model, a file to loop) are relative to the
config file. Secrets are named by environment variable (`secret_env`, `password_env`, `token_env`) so that
the file itself can be shared; the MQTT password may also be written in it, for sites that prefer that.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from maskwatch.core.classes import NON_COMPLIANT, NON_COMPLIANT_ALIAS, STATES
from maskwatch.core.zones import Zone, zone_problem
from maskwatch.io.net import TOKEN_ENV, host_name, is_loopback, tls_problem
from maskwatch.io.sources import STREAM_PREFIXES, redact
from maskwatch.video.alerts import AlertRule
from maskwatch.video.clips import CLIP_KINDS, ClipSettings
from maskwatch.vision.detector import DEFAULT_DETECTOR
from maskwatch.vision.judge import DEFAULT_RULE
from maskwatch.vision.presets import INCORRECT_MODEL, PRESETS

CAMERA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # a part of MQTT topics and URLs: no / + # space


@dataclass(frozen=True)
class Key:
    """One key of the config, as docs/config.md lists it (a test checks the defaults against `parse`)."""

    name: str
    kind: str
    default: object  # REQUIRED, or the value a config without the key gets (None: unset)
    meaning: str


REQUIRED = "required"
REFERENCE: dict[str, tuple[Key, ...]] = {
    "": (
        Key("store", "path", REQUIRED, "the SQLite event store and outbox; snapshots go to STORE.snapshots/ beside it"),
        Key("retain_days", "number", None, "delete events and snapshots older than this, at start and every hour"),
        Key("snapshots", "bool", True, "keep the clearest face of each person with their events"),
        Key("blur_snapshots", "bool", False, "keep snapshots blurred to a few blocks (no face left to recognise)"),
        Key("model", "path or \"incorrect\"", None, "a .tflite classifier with labels.json beside it, or "
            "\"incorrect\": the opt-in three-class model (default: each camera's preset's model)"),
    ),
    "http": (
        Key("host", "string", "127.0.0.1", "the address of the page, the API and /metrics; beyond loopback "
            "(127.0.0.0/8, ::1) every request but /healthz needs the token"),
        Key("port", "integer", 8080, "its port"),
        Key("token_env", "string", "MASKWATCH_TOKEN", "the environment variable holding the token "
            "(Authorization: Bearer TOKEN)"),
        Key("users_env", "string", None, "an environment variable holding tokens that name users, as "
            "\"alice=TOKEN1,bob=TOKEN2\": each lets its user in, and the review page records who reviewed"),
        Key("allowed_hosts", "list of strings", [], "more names the page may be reached by (the Host header): on "
            "loopback, localhost, 127.0.0.1, ::1 and the bound address always are; beyond it, any name unless "
            "this lists some"),
        Key("cert_file", "path", None, "PEM certificate: serve HTTPS instead of HTTP (with key_file)"),
        Key("key_file", "path", None, "its private key (PEM, unencrypted)"),
    ),
    "camera": (
        Key("name", "string", REQUIRED, "1-64 letters, digits, '.', '_' or '-': part of MQTT topics and URLs"),
        Key("source", "string or integer", REQUIRED, "a camera index, an rtsp:// or http(s):// URL, or a video file"),
        Key("loop", "bool", False, "replay a file forever at its own frame rate (demos, tests)"),
        Key("preset", "string", "fast", "fast or accurate (detector input, threshold, classifier)"),
        Key("detect_every", "integer 1-30", None, "run the face detector on every Nth frame (default: the preset's)"),
        Key("model", "path or \"incorrect\"", None, "this camera's classifier (default: the top-level model, "
            "else the preset's)"),
        Key("detector", "string or path", "maskwatch", "maskwatch (fine-tuned CenterFace), centerface, or a .onnx "
            "file from train-detector"),
        Key("face_threshold", "number 0.01-1", None, "least face score (default: the detector's own, else the "
            "preset's)"),
        Key("min_face_px", "number", 16.0, "faces smaller than this (long side, px) are `unknown`, not judged"),
        Key("zone", "tables", [], "[[camera.zone]] tables below it: named parts of the picture (events name them)"),
        Key("ignore_outside_zones", "bool", False, "look only at faces inside a zone: others are not classified, "
            "counted or alerted on"),
        Key("motion_gate", "bool", True, "look at a frame only when something moved or a face is being followed "
            "(and at least every 2 s): an empty camera costs almost nothing"),
    ),
    "camera.zone": (
        Key("name", "string", REQUIRED, "1-64 letters, digits, '.', '_' or '-'"),
        Key("points", "list of [x, y]", REQUIRED, "3 or more corners: fractions of the frame when every value is "
            "0-1, else pixels; a face is in the zone when the centre of its box is"),
    ),
    "clips": (
        Key("enabled", "bool", False, "write a video clip of each event of the kinds below (H.264 MP4, in "
            "STORE.clips/ beside the store; needs snapshots; faces blurred with blur_snapshots)"),
        Key("before_s", "number 0-60", 5.0, "seconds of video before the event"),
        Key("after_s", "number 0-120", 5.0, "seconds after it"),
        Key("on", "list of strings", ["alert"], "the kinds of event that get a clip: alert, mask_off, mask_on, "
            "person_appeared"),
        Key("boxes", "bool", True, "draw the faces' boxes, states and zones on the clip"),
    ),
    "alert": (
        Key("state", "string or list", REQUIRED, "with_mask, without_mask, mask_weared_incorrect, unknown, or "
            "non_compliant (without_mask or mask_weared_incorrect)"),
        Key("after_s", "number", 3.0, "seconds a person must be in that state before the alert"),
        Key("cooldown_s", "number", 60.0, "seconds before the same person alerts again while still so"),
        Key("camera_cooldown_s", "number", 0.0, "seconds between alerts of one camera (0: each person their own)"),
        Key("cameras", "list of strings", None, "only these cameras (default: all)"),
        Key("zones", "list of strings", None, "only while the person's face is in one of these zones (default: "
            "anywhere)"),
    ),
    "mqtt": (
        Key("host", "string", "127.0.0.1", "the broker"),
        Key("port", "integer", 1883, "its port"),
        Key("username", "string", None, "user name for the broker"),
        Key("password", "string", None, "its password, written in the config"),
        Key("password_env", "string", None, "or the environment variable holding it"),
        Key("tls", "bool", False, "connect with TLS (on by itself when ca_file is given)"),
        Key("ca_file", "path", None, "CA certificate that signed the broker's"),
        Key("cert_file", "path", None, "client certificate (with key_file)"),
        Key("key_file", "path", None, "its private key"),
        Key("topic_prefix", "string", "maskwatch", "topics are PREFIX/CAMERA/events and PREFIX/CAMERA/status"),
        Key("keepalive_s", "integer 5-3600", 30, "MQTT keepalive, and how long a publish waits for its PUBACK"),
        Key("discovery", "bool", True, "announce each camera to Home Assistant (MQTT discovery): sensors, a "
            "binary sensor and the live picture appear there without YAML"),
        Key("discovery_prefix", "string", "homeassistant", "Home Assistant's discovery prefix"),
    ),
    "webhook": (
        Key("url", "string", REQUIRED, "http(s):// URL that each event is POSTed to; a USER:PASSWORD@ in it goes as "
            "HTTP Basic auth; redirects are not followed"),
        Key("secret_env", "string", None, "environment variable holding the HMAC-SHA256 key of "
            "X-Maskwatch-Signature"),
        Key("password_env", "string", None, "environment variable holding the password of the URL's USER@"),
        Key("timeout_s", "number 0.1-120", 5.0, "seconds a POST may take before it counts as failed"),
    ),
}
KEYS = {table: {key.name for key in keys} | ({"http", "camera", "alert", "mqtt", "webhook", "clips"} if not table
                                             else set())
        for table, keys in REFERENCE.items()}
TABLES = {"": "top level", "http": "[http]", "camera": "[[camera]] (one or more)",
          "camera.zone": "[[camera.zone]] (zero or more, each after the [[camera]] it belongs to)",
          "clips": "[clips]", "alert": "[[alert]]", "mqtt": "[mqtt]", "webhook": "[[webhook]]"}


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
    for table, keys in REFERENCE.items():
        rows = "\n".join(f"| `{k.name}` | {k.kind} | {_toml(k.default)} | {k.meaning} |" for k in keys)
        parts.append(f"### {TABLES[table]}\n\n| key | type | default | meaning |\n| --- | --- | --- | --- |\n{rows}\n")
    return "\n".join(parts)


class ConfigError(ValueError):
    """Everything wrong with a config file, one problem per line."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{path}: {problem}" for problem in problems))


@dataclass(frozen=True)
class CameraConfig:
    name: str
    source: str  # a camera index, a stream URL or a file
    loop: bool = False  # replay a file forever, at its own frame rate, as if it were a camera
    preset: str = "fast"
    detect_every: int | None = None  # None: the preset's
    model: Path | None = None  # None: the site's model, else the preset's
    detector: str = DEFAULT_DETECTOR
    face_threshold: float | None = None  # None: the detector's own, else the preset's
    min_face_px: float = DEFAULT_RULE.min_side
    zones: tuple[Zone, ...] = ()
    ignore_outside_zones: bool = False
    motion_gate: bool = True

    @property
    def is_file(self) -> bool:
        return not self.source.isdigit() and not self.source.lower().startswith(STREAM_PREFIXES)


@dataclass(frozen=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = field(default=None, repr=False)  # read from the environment variable `token_env`
    users: dict[str, str] = field(default_factory=dict, repr=False)  # user -> token, from `users_env`
    allowed_hosts: tuple[str, ...] = ()  # more names for the Host header than the bind's own (see web.auth)
    cert_file: Path | None = None  # with key_file: HTTPS (uvicorn's own TLS)
    key_file: Path | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.cert_file else 'http'}://{host}:{self.port}/"

    @property
    def local(self) -> bool:
        return is_loopback(self.host)


@dataclass(frozen=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    topic_prefix: str = "maskwatch"
    keepalive_s: int = 30
    discovery: bool = True  # Home Assistant MQTT discovery
    discovery_prefix: str = "homeassistant"


@dataclass(frozen=True)
class WebhookConfig:
    url: str  # as configured: a user (and password) in it go as HTTP Basic auth (see delivery.basic_auth)
    secret: bytes | None = field(default=None, repr=False)  # never logged: see `__repr__`
    timeout_s: float = 5.0
    password: str | None = field(default=None, repr=False)  # of the URL's user, from `password_env`

    def __repr__(self) -> str:
        return f"WebhookConfig(url={redact(self.url)!r}, signed={self.secret is not None})"


@dataclass(frozen=True)
class WatchConfig:
    path: Path
    store: Path
    cameras: list[CameraConfig]
    http: HttpConfig = HttpConfig()
    alerts: list[tuple[AlertRule, tuple[str, ...] | None]] = field(default_factory=list)  # rule, its cameras
    mqtt: MqttConfig | None = None
    webhooks: list[WebhookConfig] = field(default_factory=list)
    retain_days: float | None = None
    snapshots: bool = True
    blur_snapshots: bool = False
    model: Path | None = None
    clips: ClipSettings | None = None  # None: no clips

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
    """Typed reads of one table, each failure added to the shared list of problems."""

    def __init__(self, table: dict, where: str, kind: str, problems: list[str]) -> None:
        self.table, self.where, self.problems = table, where, problems
        for key in sorted(set(table) - KEYS[kind]):
            self.problem(f"unknown key {key!r} (known: {', '.join(sorted(KEYS[kind]))})")

    def problem(self, text: str) -> None:
        self.problems.append(f"{self.where}{text}")

    def get(self, key: str, kinds: type | tuple[type, ...], default: Any = None, required: bool = False) -> Any:
        if key not in self.table:
            if required:
                self.problem(f"{key!r} is required")
            return default
        value = self.table[key]
        allowed = kinds if isinstance(kinds, tuple) else (kinds,)
        names = " or ".join(k.__name__ for k in allowed)
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):  # True is an int
            self.problem(f"{key!r} must be {names.replace('str', 'a string').replace('float', 'a number')}, "
                         f"got {value!r}")
            return default
        return value

    def number(self, key: str, default: float | None, low: float = 0.0, integer: bool = False,
               high: float = float("inf")) -> Any:
        value = self.get(key, int if integer else (int, float), default)
        if value is not None and value is not default and not low <= value <= high:
            limits = f"at least {low:g}" if high == float("inf") else f"between {low:g} and {high:g}"
            self.problem(f"{key!r} must be {limits}, got {value}")
            return default
        return value

    def secret(self, key: str) -> str | None:
        """The value of the environment variable that `key` names, which must be set."""
        name = self.get(key, str)
        if name is None:
            return None
        value = os.environ.get(name)
        if not value:
            self.problem(f"{key!r} names the environment variable {name}, which is not set")
        return value or None

    def path(self, key: str, base: Path) -> Path | None:
        """A file that must exist, relative to the config's folder."""
        text = self.get(key, str)
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
    name = r.get("name", str, required=True)
    if name is not None and not CAMERA_NAME.fullmatch(name):
        r.problem("'name' must be 1-64 letters, digits, '.', '_' or '-' (it is part of MQTT topics and URLs)")
    source = r.get("source", (str, int), required=True)
    loop = r.get("loop", bool, False)
    preset = r.get("preset", str, "fast")
    if preset not in PRESETS:
        r.problem(f"'preset' must be one of {', '.join(PRESETS)}, got {preset!r}")
    every = r.number("detect_every", None, low=1, integer=True, high=30)
    vision = {"model": _model(table, r, base), "detector": _detector(r, base),
              "face_threshold": r.number("face_threshold", None, low=0.01, high=1.0),
              "min_face_px": float(r.number("min_face_px", DEFAULT_RULE.min_side, low=1.0, high=10000.0)),
              "zones": _zones(r), "ignore_outside_zones": r.get("ignore_outside_zones", bool, False),
              "motion_gate": r.get("motion_gate", bool, True)}
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
    tables = camera.get("zone", (list, dict), [])
    tables = [tables] if isinstance(tables, dict) else tables
    zones: list[Zone] = []
    for index, table in enumerate(tables):
        if not isinstance(table, dict):
            camera.problem("'zone' must be [[camera.zone]] tables")
            return ()
        r = _Reader(table, f"{camera.where}zone #{index + 1}: ", "camera.zone", camera.problems)
        name, points = r.get("name", str, required=True), r.get("points", list, required=True)
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
    name = r.get("detector", str, DEFAULT_DETECTOR)
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
    state = r.get("state", (str, list), required=True)
    named = [state] if isinstance(state, str) else state or []
    states = [s for name in named for s in (NON_COMPLIANT if name == NON_COMPLIANT_ALIAS else [name])]
    bad = [s for s in states if s not in STATES]
    if bad or (state is not None and not states):
        r.problem(f"'state' must be one or a list of {', '.join((*STATES, NON_COMPLIANT_ALIAS))}, got {state!r}")
    after = r.number("after_s", 3.0)
    cooldown = r.number("cooldown_s", 60.0)
    camera_cooldown = r.number("camera_cooldown_s", 0.0)
    names = {camera.name for camera in cameras}
    chosen = r.get("cameras", list)
    if chosen is not None:
        unknown = [c for c in chosen if c not in names]
        if unknown:
            r.problem(f"'cameras' names no configured camera: {', '.join(map(str, unknown))}")
    zones = r.get("zones", list)
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
    enabled = r.get("enabled", bool, False)
    before, after = r.number("before_s", 5.0, 0.0, high=60.0), r.number("after_s", 5.0, 0.0, high=120.0)
    kinds = r.get("on", list, ["alert"])
    bad = [kind for kind in kinds if kind not in CLIP_KINDS]
    if bad or not kinds:
        r.problem(f"'on' must list some of {', '.join(CLIP_KINDS)}, got {kinds!r}")
    if enabled and not snapshots:
        r.problem("clips show faces, and this site keeps none (snapshots = false): set blur_snapshots = true "
                  "instead to keep clips with every face blurred")
    if not enabled:
        return None
    return ClipSettings(float(before), float(after), tuple(kinds), r.get("boxes", bool, True), blur)


def _mqtt(table: dict, base: Path, problems: list[str]) -> MqttConfig:
    r = _Reader(table, "mqtt: ", "mqtt", problems)
    password = r.get("password", str)
    from_env = r.secret("password_env")
    if password and from_env:
        r.problem("give 'password' or 'password_env', not both")
    prefix = r.get("topic_prefix", str, "maskwatch")
    discovery_prefix = r.get("discovery_prefix", str, "homeassistant")
    for key, value in (("topic_prefix", prefix), ("discovery_prefix", discovery_prefix)):
        if any(c in value for c in "+#") or not value.strip("/"):
            r.problem(f"'{key}' must be a topic without wildcards, got {value!r}")
    files = {key: r.path(key, base) for key in ("ca_file", "cert_file", "key_file")}
    if (files["cert_file"] is None) != (files["key_file"] is None):
        r.problem("'cert_file' and 'key_file' go together")
    return MqttConfig(r.get("host", str, "127.0.0.1"), r.number("port", 1883, 1, True, 65535), r.get("username", str),
                      password or from_env, r.get("tls", bool, False) or files["ca_file"] is not None, **files,
                      topic_prefix=prefix.strip("/"), keepalive_s=r.number("keepalive_s", 30, 5, True, 3600),
                      discovery=r.get("discovery", bool, True), discovery_prefix=discovery_prefix.strip("/"))


def _webhook(table: dict, index: int, problems: list[str]) -> WebhookConfig | None:
    r = _Reader(table, f"webhook #{index + 1}: ", "webhook", problems)
    url = r.get("url", str, required=True)
    secret = r.secret("secret_env")
    password = r.secret("password_env")
    timeout = r.number("timeout_s", 5.0, 0.1, high=120)
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


def parse(data: dict, path: Path) -> WatchConfig:
    """The config from parsed TOML; a ConfigError naming every problem."""
    base, problems = path.parent, []
    top = _Reader(data, "", "", problems)
    store = top.get("store", str, required=True)
    retain = top.number("retain_days", None, low=0.001)
    model = _model(data, top, base)
    http = _Reader(data.get("http", {}), "http: ", "http", problems) if isinstance(data.get("http", {}), dict) else None
    if http is None:
        problems.append("'http' must be a table ([http])")
        http = _Reader({}, "http: ", "http", problems)
    host = http.get("host", str, "127.0.0.1")
    port = http.number("port", 8080, 1, True, 65535)
    token_env = http.get("token_env", str, TOKEN_ENV)
    token = os.environ.get(token_env) or None
    users = _users(http)
    if not is_loopback(host) and not token and not users:
        http.problem(f"the page and the API listen on {host}, beyond this machine: set a token in the environment "
                     f"variable {token_env} (clients send it as 'Authorization: Bearer TOKEN')")
    allowed = _host_names(http.get("allowed_hosts", list, []), http)
    tls = {key: http.path(key, base) for key in ("cert_file", "key_file")}
    if (tls["cert_file"] is None) != (tls["key_file"] is None):
        http.problem("'cert_file' and 'key_file' go together")
    elif tls["cert_file"] and all(f.is_file() for f in tls.values()) and (problem := tls_problem(**tls)):
        http.problem(problem)
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
    webhooks = [w for i, t in enumerate(_tables(data, "webhook", problems)) if (w := _webhook(t, i, problems))]
    snapshots, blur = top.get("snapshots", bool, True), top.get("blur_snapshots", bool, False)
    clips_table = data.get("clips", {})
    clips = _clips(clips_table, snapshots, blur, problems) if isinstance(clips_table, dict) else None
    if not isinstance(clips_table, dict):
        problems.append("'clips' must be a table ([clips])")
    if problems:
        raise ConfigError(path, problems)
    return WatchConfig(path, base / Path(store).expanduser(), cameras,
                       HttpConfig(host, port, token, allowed_hosts=allowed, users=users, **tls),
                       alerts, mqtt, webhooks, retain, snapshots, blur, model, clips)


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
