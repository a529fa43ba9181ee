"""The docs against the code, so that they cannot drift: the keys of a `--json` record and of an event are those
the code writes, in the same order; the headline scene numbers are what `evaluate` prints; docs/config.md is the
config reference the code generates, with the defaults `parse` gives."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from maskwatch.io.net import TOKEN_ENV
from maskwatch.io.sinks import frame_record
from maskwatch.io.sources import Frame
from maskwatch.monitor.config import KEYS, REFERENCE, REQUIRED, parse, reference_markdown
from maskwatch.monitor.store import event_record
from maskwatch.video.events import Event
from maskwatch.vision.results import Face
from maskwatch.vision.runtimes import openvino_bf16
from tests.conftest import SHARED, needs_shared

README = Path(__file__).resolve().parents[1] / "README.md"


def example_after(sentence: str) -> dict:
    """The JSON block that follows `sentence` in the README."""
    text = README.read_text(encoding="utf-8")
    start = text.index(sentence)
    block = re.search(r"```json\n(.*?)```", text[start:], re.S)
    assert block is not None, f"no JSON example after {sentence!r}"
    return json.loads(block.group(1))


def test_readme_event_example_has_every_key_of_an_event_record() -> None:
    event = Event("mask_on", 1, "clip.mp4", 22, 0.88, "2026-11-27T01:13:37.204+00:00", "with_mask",
                  (161.6, 45.0, 227.2, 126.2), 0.94, "without_mask", id=2)
    shown = example_after("An event, as `maskwatch events EVENTS.db --json` prints it")
    assert list(shown) == list(event_record(1, event))


def test_readme_frame_record_example_has_the_keys_detect_writes() -> None:
    face = Face((1, 2, 3, 4), 0.9, "without_mask", 1.0, {"with_mask": 0.0, "without_mask": 1.0}, "without_mask")
    record = frame_record(Frame(None, "a.png", 0, 0.0, Path("a.png"), None, False), [face])
    shown = example_after("A record of `--json`:")
    assert list(shown) == list(record)
    assert list(shown["faces"][0]) == list(record["faces"][0])


@needs_shared
def test_readme_held_out_scene_numbers_are_what_evaluate_prints() -> None:
    """The headline end-to-end numbers: rerun on the held-out scenes (about 20 s) and find them in the README."""
    result = subprocess.run([sys.executable, "-m", "maskwatch", "-q", "evaluate", "--scenes",
                             str(SHARED / "mask-detect"), "--held-out", "--json"],
                            capture_output=True, text=True, timeout=600, check=True)
    scores = json.loads(result.stdout)
    ignored = scores["incorrect_ignored"]
    text = README.read_text(encoding="utf-8")
    # the runtime in use: OpenVINO in bfloat16 where the CPU has it, else onnxruntime in 8 bits
    name = ("maskwatch, OpenVINO bfloat16 (default on bfloat16 CPUs)" if openvino_bf16()
            else "maskwatch int8, onnxruntime (default elsewhere)")
    row = (f"| ignored | {name} | **{ignored['map50']:.3f}** | "
           f"{ignored['per_class']['with_mask']['ap50']:.3f} | {ignored['per_class']['without_mask']['ap50']:.3f} | "
           f"{ignored['face_recall']:.3f} | {ignored['face_ap50']:.3f} |")
    assert row in text
    unknown, large = 100 * scores["unknown_rate"], 100 * scores["unknown_rate_48px_and_up"]
    assert f"`unknown` for {unknown:.1f}% of the faces found here ({large:.1f}% of those" in " ".join(text.split())


def test_config_reference_page_is_generated_from_the_code() -> None:
    page = (README.parent / "docs" / "config.md").read_text(encoding="utf-8")
    marker = "<!-- generated: do not edit below; regenerate with the command above -->\n\n"
    assert page.split(marker, 1)[1] == reference_markdown()


def test_a_config_without_a_key_gets_the_default_the_reference_shows(tmp_path: Path) -> None:
    """Parse a config that names only the required keys, and read every optional key's value back."""
    config = parse({"store": "events.db", "camera": [{"name": "cam", "source": "0"}], "alert": [{"state": "unknown"}],
                    "mqtt": {}, "webhook": [{"url": "http://127.0.0.1:9/hook"}]}, tmp_path / "site.toml")
    (rule, cameras), = config.alerts
    # clips are off without [clips]; the other keys of [clips] are read from a table that only turns them on
    clips = parse({"store": "e.db", "camera": [{"name": "cam", "source": "0"}], "clips": {"enabled": True}},
                  tmp_path / "site.toml").clips
    parsed = {"": config, "http": config.http, "camera": config.cameras[0], "alert": rule, "mqtt": config.mqtt,
              "webhook": config.webhooks[0], "clips": clips}
    aliases = {("alert", "cameras"): cameras, ("http", "token_env"): TOKEN_ENV, ("http", "users_env"): None,
               ("camera", "zone"): config.cameras[0].zones, ("clips", "enabled"): config.clips is not None,
               ("clips", "on"): clips.kinds,
               ("mqtt", "password_env"): None, ("webhook", "password_env"): None, ("webhook", "secret_env"): None}
    for table, keys in REFERENCE.items():
        for key in keys:
            if key.default is REQUIRED:
                continue
            value = aliases.get((table, key.name), getattr(parsed[table], key.name, "missing"))
            expected = tuple(key.default) if isinstance(key.default, list) else key.default
            assert value == expected, f"{table or 'top level'}.{key.name}: parsed {value!r}, documented {expected!r}"
    assert set(KEYS) == set(REFERENCE)


def test_the_readme_site_config_is_a_config_watch_accepts(tmp_path: Path, monkeypatch) -> None:
    """The full site config of "Watch a site", as written, passes the checks of `watch --check`."""
    from maskwatch.monitor.config import load

    text = README.read_text(encoding="utf-8")
    start = text.index("`maskwatch watch CONFIG.toml` runs a site's cameras")
    block = re.search(r"```toml\n(.*?)```", text[start:], re.S).group(1)
    monkeypatch.setenv("MASKWATCH_WEBHOOK_SECRET", "s3cret")
    (tmp_path / "site.toml").write_text(block)
    config = load(tmp_path / "site.toml")
    camera = config.cameras[0]
    assert [zone.name for zone in camera.zones] == ["door"] and config.alerts[0][0].zones == ("door",)
